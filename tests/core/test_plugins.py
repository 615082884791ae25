"""The plugin manager, the provider registry, and meta-tests keeping the hooks honest."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pluggy
import pytest

from membership_sdk import (
    MembershipProgram,
    PluginError,
    Providers,
    UnknownProvider,
    get_plugin_manager,
    hookimpl,
    hookspecs,
)
from membership_sdk.plugins import DEFAULT_PLUGINS, DISABLED_ENV
from membership_sdk.providers.fake import FakeProvider
from membership_sdk.testing import HookRecorder, sample_catalog, sample_program

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"

SPECS = sorted(
    name
    for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("membership_")
)


def _hook_names(pm: pluggy.PluginManager) -> list[str]:
    return sorted(name for name in dir(pm.hook) if name.startswith("membership_"))


# -- the hookspecs are documented ------------------------------------------------------------


def test_every_hook_of_the_manager_is_a_spec_of_hookspecs() -> None:
    assert _hook_names(get_plugin_manager()) == SPECS


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_documents_each_parameter_and_the_result(name: str) -> None:
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    params = list(inspect.signature(spec).parameters)

    assert doc.split("\n", 1)[0].strip(), f"{name} has no summary line"
    for param in params:
        assert f":param {param}:" in doc, f"{name} does not document {param!r}"
    assert ":returns:" in doc, f"{name} does not say what it returns"


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_says_how_results_are_dispatched(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    options = getattr(hookspecs, name).membership_sdk_spec

    sentence = (
        "Stops at first non-None result"
        if options.get("firstresult")
        else "All implementations are called"
    )
    assert sentence in doc


def test_the_plugin_guide_renders_the_hook_reference_from_the_hookspecs() -> None:
    text = DOCS.read_text(encoding="utf-8")

    directive = re.search(
        r"^\.\. automodule:: membership_sdk\.hookspecs\n((?:[ \t]+:.*\n)*)", text, re.M
    )

    assert directive is not None, "docs/plugins.md must autodoc membership_sdk.hookspecs"
    assert ":members:" in directive.group(1)
    exported = getattr(hookspecs, "__all__", SPECS)
    assert set(SPECS) <= set(exported), "autodoc :members: skips specs missing from __all__"


@pytest.mark.parametrize("name", SPECS)
def test_the_plugin_guide_mentions_every_hook(name: str) -> None:
    assert f"`{name}`" in DOCS.read_text(encoding="utf-8")


# -- building the manager ---------------------------------------------------------------------


def test_the_manager_registers_the_built_in_plugins_by_name() -> None:
    pm = get_plugin_manager()

    for name, module in DEFAULT_PLUGINS:
        assert pm.get_plugin(name).__name__ == module


def test_the_built_in_providers_register_like_any_other() -> None:
    providers = Providers(get_plugin_manager(), development=True)

    assert {"fake", "manual"} <= set(providers)


def test_building_two_managers_gives_two_independent_managers() -> None:
    first, second = get_plugin_manager(), get_plugin_manager()
    first.register(HookRecorder())

    assert len(first.get_plugins()) == len(second.get_plugins()) + 1


def test_a_blocked_built_in_is_not_registered() -> None:
    pm = get_plugin_manager(blocked=["fake"])

    assert pm.is_blocked("fake")
    assert "fake" not in Providers(pm, development=True)
    assert "manual" in Providers(pm, development=True)


def test_the_environment_variable_blocks_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLED_ENV, " fake , manual,")

    providers = Providers(get_plugin_manager())

    assert "fake" not in providers
    assert "manual" not in providers


def test_a_misspelt_hookimpl_fails_at_start_up() -> None:
    class Mailer:
        @hookimpl
        def membership_activatd(self, membership: Any, event: Any) -> None:
            """A typo: this hook does not exist."""

    with pytest.raises(PluginError, match="membership_activatd"):
        get_plugin_manager(plugins=[Mailer()])


def test_extra_plugins_are_registered() -> None:
    recorder = HookRecorder()

    assert get_plugin_manager(plugins=[recorder]).is_registered(recorder)


# -- the provider registry --------------------------------------------------------------------


def _registering(*providers: object) -> object:
    class Plugin:
        @hookimpl
        def membership_register_providers(
            self, register: Callable[[Any], None], config: Mapping[str, Any]
        ) -> None:
            for provider in providers:
                register(provider)

    return Plugin()


def test_two_providers_with_one_name_are_refused_naming_both() -> None:
    first, second = FakeProvider(name="twin"), FakeProvider(name="twin")
    pm = get_plugin_manager(plugins=[_registering(first, second)])

    with pytest.raises(PluginError, match="two providers are named 'twin'") as raised:
        Providers(pm)
    assert repr(first) in str(raised.value)
    assert repr(second) in str(raised.value)


def test_a_third_party_provider_may_not_take_a_built_in_name() -> None:
    pm = get_plugin_manager(plugins=[_registering(FakeProvider())])

    with pytest.raises(PluginError, match="two providers are named 'fake'"):
        Providers(pm)


def test_a_provider_lacking_methods_is_refused_naming_what_it_lacks() -> None:
    class HalfDone:
        name = "halfdone"

        def create_checkout(self, request: Any) -> Any: ...

        def parse_webhook(self, headers: Any, body: bytes) -> Any: ...

    pm = get_plugin_manager(plugins=[_registering(HalfDone())])

    with pytest.raises(PluginError, match="'halfdone' lacks") as raised:
        Providers(pm)
    for missing in (
        "fetch_subscription",
        "cancel_subscription",
        "resume_subscription",
        "portal_url",
        "refetch_subscriptions",
    ):
        assert missing in str(raised.value)


def test_a_provider_without_a_settings_spec_is_refused_naming_what_is_expected() -> None:
    class Undeclared(FakeProvider):
        settings_spec = None  # type: ignore[assignment]

    pm = get_plugin_manager(plugins=[_registering(Undeclared(name="undeclared"))])

    with pytest.raises(
        PluginError,
        match=r"provider 'undeclared' has none as settings_spec; expected a .*SettingsSpec",
    ):
        Providers(pm)


def test_a_provider_whose_settings_spec_is_not_a_settings_spec_is_refused() -> None:
    class Tupled(FakeProvider):
        settings_spec = ("secret", "secrets")  # type: ignore[assignment]

    pm = get_plugin_manager(plugins=[_registering(Tupled(name="tupled"))])

    with pytest.raises(
        PluginError,
        match=r"provider 'tupled' has a tuple as settings_spec; expected a .*SettingsSpec",
    ):
        Providers(pm)


def test_a_provider_without_a_name_is_refused() -> None:
    pm = get_plugin_manager(plugins=[_registering(object())])

    with pytest.raises(PluginError, match="has no name"):
        Providers(pm)


def test_an_unknown_provider_name_lists_the_registered_ones() -> None:
    providers = Providers(get_plugin_manager(), development=True)

    with pytest.raises(UnknownProvider, match="no payment provider named 'mollie'") as raised:
        providers["mollie"]
    assert "'fake'" in str(raised.value)
    assert "'manual'" in str(raised.value)


def test_each_provider_reads_only_its_own_settings() -> None:
    providers = Providers(
        get_plugin_manager(),
        {"fake": {"checkout_url": "/pay/"}, "manual": {"iban": "DE00 1234"}},
        development=True,
    )

    assert providers["fake"].checkout_url == "/pay/"  # type: ignore[attr-defined]
    assert providers["manual"].iban == "DE00 1234"  # type: ignore[attr-defined]


# -- lifecycle hooks with the fake provider ---------------------------------------------------


@pytest.fixture
def recorder() -> HookRecorder:
    return HookRecorder()


@pytest.fixture
def program(recorder: HookRecorder) -> MembershipProgram:
    return sample_program(sample_catalog("fake", monthly="fake_gold"), plugins=[recorder])


def _deliver(program: MembershipProgram, webhook: Any) -> None:
    program.handle_webhook("fake", webhook.headers, webhook.body)


def _subscribe(program: MembershipProgram) -> tuple[FakeProvider, str]:
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    session = program.start_checkout(
        "ann", "gold-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    _deliver(program, fake.complete_checkout(session.id))
    (membership,) = program.store.memberships.for_member("ann")
    assert membership.provider_subscription_id is not None
    return fake, membership.provider_subscription_id


def test_lifecycle_hooks_fire_once_per_real_transition(
    program: MembershipProgram, recorder: HookRecorder
) -> None:
    fake, sub = _subscribe(program)
    for change in (fake.renew, fake.fail_payment, fake.recover, fake.renew):
        _deliver(program, change(sub))
    fake.cancel_subscription(sub, at_period_end=True)
    _deliver(program, fake.outbox[-1])
    _deliver(program, fake.expire(sub))

    for webhook in list(fake.outbox):  # a provider retrying everything fires nothing more
        _deliver(program, webhook)

    assert recorder.names() == [
        "membership_activated",
        "membership_renewed",
        "membership_payment_failed",
        "membership_renewed",
        "membership_renewed",
        "membership_canceled",
        "membership_expired",
    ]


def test_a_hook_receives_the_stored_membership_and_the_event(
    program: MembershipProgram, recorder: HookRecorder
) -> None:
    _subscribe(program)

    (call,) = [c for c in recorder.calls if c.name == "membership_activated"]
    (stored,) = program.store.memberships.for_member("ann")

    assert call.kwargs["membership"] == stored
    assert call.kwargs["event"].provider == "fake"


def test_every_access_change_is_announced_for_the_member(
    program: MembershipProgram, recorder: HookRecorder
) -> None:
    fake, sub = _subscribe(program)
    _deliver(program, fake.expire(sub))

    changed = [c.kwargs["member_id"] for c in recorder.calls if c.name.endswith("access_changed")]

    assert changed == ["ann", "ann"]


def test_an_event_for_a_foreign_price_fires_the_ignored_hook(recorder: HookRecorder) -> None:
    program = sample_program(sample_catalog("fake", monthly="ours"), plugins=[recorder])
    fake = program.providers["fake"]
    assert isinstance(fake, FakeProvider)
    other = sample_program(sample_catalog("fake", monthly="theirs"))
    session = other.start_checkout(
        "ann", "gold-monthly", provider="fake", success_url="/", cancel_url="/"
    )
    webhook = other.providers["fake"].complete_checkout(session.id)  # type: ignore[attr-defined]

    _deliver(program, webhook)

    (call,) = [c for c in recorder.calls if c.name == "membership_event_ignored"]
    assert "foreign price 'theirs'" in call.kwargs["result"].detail


def test_a_hookimpl_asking_for_arguments_the_hook_lacks_fails_at_start_up() -> None:
    class Greedy:
        @hookimpl
        def membership_activated(self, membership: Any, event: Any, mailer: Any) -> None:
            """Asks for a ``mailer`` the hook does not pass."""

    with pytest.raises(PluginError, match="mailer"):
        get_plugin_manager(plugins=[Greedy()], load_entrypoints=False)
