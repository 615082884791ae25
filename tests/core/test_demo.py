"""``make demo``: the walk-through runs and tells the story it promises."""

from __future__ import annotations

import io
import re

from membership_sdk import demo


def run_demo() -> str:
    out = io.StringIO()
    assert demo.main(out=out) == 0
    return out.getvalue()


def test_the_demo_shows_the_paywall_before_subscribing() -> None:
    text = run_demo()
    assert "alice     reads deep-dive -> denied (tier_required), teaser shown, offers: Premium" in (
        text
    )


def test_the_demo_uses_up_the_meter_and_counts_a_re_read_once() -> None:
    lines = run_demo().splitlines()
    reads = [line.strip() for line in lines if "reads column" in line][:4]
    assert reads == [
        "alice     reads column-1  -> allowed (metered), 1 free read(s) left this month",
        "alice     reads column-2  -> allowed (metered), 0 free read(s) left this month",
        "alice     reads column-3  -> denied (meter_exhausted), teaser shown, offers: Premium",
        "alice     reads column-1  -> allowed (metered), 0 free read(s) left this month",
    ]


def test_the_demo_subscribes_through_a_verified_webhook_and_gets_in() -> None:
    text = run_demo()
    assert re.search(r"webhook evt_fake_000001_\w+ \(subscription.created\): applied", text)
    assert "[hook] membership_activated: alice on premium, status active" in text
    assert "alice     reads deep-dive -> allowed (tier)" in text


def test_the_demo_replays_a_webhook_without_changing_anything() -> None:
    text = run_demo()
    duplicate = r"webhook evt_fake_000001_\w+ \(subscription.created\): duplicate"
    assert len(re.findall(duplicate, text)) == 2
    assert "memberships unchanged: True" in text


def test_the_demo_cancels_then_loses_access_when_the_period_ends() -> None:
    text = run_demo()
    assert "cancel at period end: True, reason: 'not reading enough'" in text
    assert "[hook] membership_expired: alice on premium, status expired" in text
    assert text.rstrip().splitlines()[-1].startswith("Done.")
