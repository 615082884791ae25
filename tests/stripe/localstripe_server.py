"""Run localstripe on 127.0.0.1, on a free port, from scratch. Started by ``conftest.py``.

localstripe's own ``start()`` listens on every interface (``::``) and loads and saves its
state in ``/tmp/localstripe.pickle``, which parallel test runs would share. This starts
the same aiohttp app on a socket bound to 127.0.0.1 only, with an empty store that is
never written to disk, and prints the port it got on the first line of stdout.

localstripe's subscription list refuses Stripe's ``status`` filter; it is taught it here
(``all`` lists every subscription, another word only those with that status), as the
reconcile command lists subscriptions with ``status=all``.
"""

from __future__ import annotations

import socket
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def _list_subscriptions_by_status() -> None:
    listing = resources.Subscription._api_list_all.__func__  # type: ignore[attr-defined]

    def list_all(cls: Any, url: str, status: str | None = None, **kwargs: Any) -> Any:
        found = listing(cls, url, **kwargs)
        if status not in (None, "all"):
            found._list = [s for s in found._list if s.status == status]
        return found

    resources.Subscription._api_list_all = classmethod(list_all)  # type: ignore[assignment]


def main() -> None:
    _list_subscriptions_by_status()
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.store.clear()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":
    main()
