"""Two app servers, one database, one shared cache: access changed through one server is
honoured by the other on its very next request.

Server B caches the member's access rows in Redis when it first serves them; an editor
then comps (and later revokes) the member's tier in the Wagtail admin on server A. A's
change replaces the member's generation token in the shared cache, so B's next request
loads the member's access afresh instead of trusting the rows it cached.
"""

from __future__ import annotations

import pytest

from .conftest import SKIP_REASON, Browser, Deployment, grant_ids

# A mark, not a module-level skip: pytest would then collect nothing and exit with 5.
pytestmark = pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON)


def test_a_comp_and_a_revocation_made_on_one_server_apply_on_the_other_at_once(
    deployment: Deployment,
) -> None:
    a, b, seed = deployment.a, deployment.b, deployment.seed
    gen_key = f"paywall:member:{seed['member_id']}:gen"
    member, editor = Browser(), Browser()
    # The session lives in the shared database: logged in on A, recognised on B.
    member.log_in(a, seed["login"], "member", seed["password"])
    editor.log_in(a, seed["login"], "editor", seed["password"])

    status, headers, page = member.get(b, seed["article"])
    assert status == 200
    assert seed["teaser"] in page
    assert "Signed in as member" in page
    assert seed["premium"] not in page
    assert "private" in headers.get("cache-control", "")
    cached_before_grant = deployment.cache_value(gen_key)
    assert cached_before_grant is not None, "server B did not cache the member's access"
    assert seed["premium"] not in member.get(b, seed["article"])[2]  # served from the cache

    status, _ = editor.post(a, seed["member_admin"], {"tier": "premium", "days": 30, "note": ""})
    assert status == 302
    assert deployment.cache_value(gen_key) != cached_before_grant

    status, _, page = member.get(b, seed["article"])
    assert status == 200
    assert seed["premium"] in page

    (grant_id,) = grant_ids(editor.get(a, seed["member_admin"])[2])
    revoke = seed["member_admin"].rstrip("/").rsplit("/", 1)[0] + f"/grants/{grant_id}/revoke/"
    cached_before_revoke = deployment.cache_value(gen_key)
    status, _ = editor.post(a, revoke, {})
    assert status == 302
    assert deployment.cache_value(gen_key) != cached_before_revoke

    status, _, page = member.get(b, seed["article"])
    assert status == 200
    assert seed["teaser"] in page
    assert seed["premium"] not in page


def test_both_servers_are_separate_processes(deployment: Deployment) -> None:
    assert deployment.a.process.pid != deployment.b.process.pid
    assert deployment.a.port != deployment.b.port
