"""The pytest plugin the SDK ships to provider authors (loaded through ``pytest11``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from membership_sdk import Catalog, MemoryStore, PluginError, hookimpl
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.testing import (
    LIFECYCLE_HOOKS,
    HookRecorder,
    ProviderContract,
    sample_catalog,
    sample_program,
)


def test_the_fixtures_build_a_program_that_records_hooks(
    membership_program: Callable[..., Any],
    membership_catalog: Callable[..., Catalog],
    membership_store: MemoryStore,
    membership_hooks: HookRecorder,
) -> None:
    program = membership_program(membership_catalog("fake", monthly="fake_gold"))
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_checkout(
        "ann", "gold-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    webhook = fake.complete_checkout(session.id)

    program.handle_webhook("fake", webhook.headers, webhook.body)

    assert program.store is membership_store
    assert membership_hooks.count("membership_activated") == 1
    assert membership_hooks.names(lifecycle_only=False) == [
        "membership_access_changed",
        "membership_activated",
    ]


def test_the_sample_catalog_sells_only_the_prices_given_a_provider_id() -> None:
    catalog = sample_catalog("acme", yearly="acme_y", one_off="acme_r")

    assert sorted(p.id for p in catalog.prices) == ["gold-yearly", "report"]
    assert catalog.price_for_provider("acme", "acme_y") is catalog.price("gold-yearly")
    assert catalog.free_tier is not None


def test_a_recorder_can_be_cleared_between_steps() -> None:
    recorder = HookRecorder()
    recorder.membership_expired(membership=None, event=None)  # type: ignore[arg-type]

    recorder.clear()

    assert recorder.calls == []


def test_the_recorder_implements_every_lifecycle_hook() -> None:
    assert all(callable(getattr(HookRecorder, name)) for name in LIFECYCLE_HOOKS)


def test_a_sample_program_refuses_a_misspelt_hook() -> None:
    class Typo:
        @hookimpl
        def membership_renewd(self, membership: Any, event: Any) -> None:
            """Not a hook."""

    with pytest.raises(PluginError, match="membership_renewd"):
        sample_program(sample_catalog("fake", monthly="m"), plugins=[Typo()])


def test_a_sample_program_does_not_register_a_plugin_twice() -> None:
    recorder = HookRecorder()

    program = sample_program(sample_catalog("fake", monthly="m"), plugins=[recorder, recorder])

    assert program.pm.is_registered(recorder)


def test_a_contract_test_class_must_name_its_provider() -> None:
    with pytest.raises(TypeError, match=r"TestNameless .* sets no provider_name"):

        class TestNameless(ProviderContract):
            pass
