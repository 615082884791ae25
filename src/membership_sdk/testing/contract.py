"""The provider contract suite: the tests every payment provider must pass.

Subclass :class:`ProviderContract` in a test module, name the class ``Test...`` so pytest
collects it, and supply only what is specific to your provider::

    from membership_sdk.testing import ProviderContract

    class TestVoucherProvider(ProviderContract):
        provider_name = "voucher"

        def pay(self, provider, session):
            return provider.redeem(session.id, provider.issue_code())

        def sign(self, provider, body):
            return provider.signer.sign(body)

Every test builds a fresh :class:`~membership_sdk.program.MembershipProgram` with an
in-memory store, a catalog whose ``gold-monthly`` price is sold under
:attr:`ProviderContract.price_id`, and a
:class:`~membership_sdk.testing.recorder.HookRecorder`, then drives the provider the way
a site would.

Programs run in development mode (see :class:`~membership_sdk.plugins.Providers`), as
a provider's own tests need, except where a test says otherwise.

The provider's ``settings_spec`` is checked against what it does: a provider receiving
webhooks declares the key holding their secret; each webhook-secret key is really read,
is enough on its own outside development mode, and replaces the public development
default (a webhook signed with that default is then refused); without a secret it
verifies with its declared public default in development mode only, and
``receives_webhooks`` is true exactly when it accepts a correctly signed webhook. These
tests build settings from :attr:`ProviderContract.provider_config` with every
webhook-secret key removed and the one under test added; :meth:`ProviderContract.sign`
MUST sign with the secret the given provider was built with. Each ``required`` key is
really required (the provider is not registered from
:attr:`ProviderContract.provider_config` without it), and each setting's
``live_prefixes`` tell a live value from a test one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import pytest

from ..access import MinTier, Resource
from ..errors import MalformedEvent, PluginError, ProviderError, SignatureError
from ..events import Outcome
from ..membership import Membership, Status
from ..plugins import Providers
from ..program import MembershipProgram
from ..providers.base import CheckoutSession, Provider, Webhook
from ..providers.settings import Setting, SettingsSpec
from .recorder import HookRecorder
from .sample import SAMPLE_TIER, sample_catalog, sample_program

MEMBER = "member-contract-1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_GOLD = Resource("page:contract", MinTier(SAMPLE_TIER))


def _verifies(provider: Any, webhook: Webhook) -> bool:
    """Whether ``provider`` accepts ``webhook``'s signature."""
    try:
        provider.parse_webhook(webhook.headers, webhook.body)
    except SignatureError:
        return False
    return True


class ProviderContract:
    """Mixin of the contract tests; see the module docstring for how to use it.

    Class attributes say how to build the provider; methods :meth:`pay` and
    :meth:`sign` MUST be implemented, :meth:`break_provider` SHOULD be.
    """

    #: The name the provider registers under.
    provider_name: ClassVar[str] = ""
    #: Settings for the provider, passed as ``provider_config[provider_name]``.
    provider_config: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    #: Settings that differ from :attr:`provider_config` only in the webhook secret,
    #: merged over it. ``None``: derived from the provider's ``settings_spec`` (its first
    #: webhook-secret setting, holding a secret nobody configured).
    other_secret_config: ClassVar[Mapping[str, Any] | None] = None
    #: The provider's id for a monthly price.
    price_id: ClassVar[str] = "price_contract_monthly"
    #: The plugin registering the provider, when it is not installed through its entry
    #: point (for example while testing from a source checkout). Installed: leave ``None``.
    plugin: ClassVar[object | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("Test") and not cls.provider_name:
            raise TypeError(
                f"{cls.__name__} runs the provider contract but sets no provider_name; "
                "expected the name your provider registers under, e.g. 'mollie'"
            )

    # -- what a provider author supplies ---------------------------------------------------
    def pay(self, provider: Any, session: CheckoutSession) -> Webhook:
        """Simulate the customer paying for ``session``; return the webhook the provider
        sends about it (signed as in production)."""
        raise NotImplementedError(f"{type(self).__name__} must implement pay()")

    def sign(self, provider: Any, body: bytes) -> Webhook:
        """Sign ``body`` as ``provider`` would sign a webhook (with its configured secret)."""
        raise NotImplementedError(f"{type(self).__name__} must implement sign()")

    def break_provider(self, provider: Any) -> None:
        """Make ``provider``'s next API call fail as an outage would (a test double, a
        patched HTTP client). By default the outage test is skipped."""
        pytest.skip(f"{type(self).__name__} does not implement break_provider()")

    # -- building blocks -------------------------------------------------------------------
    def make_program(
        self, config: Mapping[str, Any] | None = None, *, development: bool = True
    ) -> MembershipProgram:
        """A fresh program (in development mode unless ``development`` is false);
        lifecycle hook calls are recorded in ``self.hooks``."""
        self.hooks = HookRecorder()
        plugins: list[object] = [self.hooks]
        if self.plugin is not None:
            plugins.append(self.plugin)
        settings = dict(self.provider_config if config is None else config)
        return sample_program(
            sample_catalog(self.provider_name, monthly=self.price_id),
            config={self.provider_name: settings},
            plugins=plugins,
            development=development,
        )

    def provider(self, program: MembershipProgram) -> Any:
        return program.providers[self.provider_name]

    def registry(self, config: Mapping[str, Any], *, development: bool) -> Providers:
        """The providers registered from ``config`` (as ``provider_config[provider_name]``)."""
        pm = self.make_program().pm
        return Providers(pm, {self.provider_name: dict(config)}, development=development)

    def start(self, program: MembershipProgram, member: str = MEMBER) -> CheckoutSession:
        return program.start_checkout(
            member,
            "gold-monthly",
            provider=self.provider_name,
            success_url="https://example.com/welcome/",
            cancel_url="https://example.com/pricing/",
            email=f"{member}@example.com",
            attempt="attempt-1",
        )

    def subscribe(self, program: MembershipProgram, member: str = MEMBER) -> Membership:
        """Check out, pay and apply the webhook; the member's membership."""
        webhook = self.pay(self.provider(program), self.start(program, member))
        program.handle_webhook(self.provider_name, webhook.headers, webhook.body)
        (membership,) = program.store.memberships.for_member(member)
        return membership

    def spec(self) -> SettingsSpec:
        """The provider's declared settings (built from :attr:`provider_config`)."""
        spec: SettingsSpec = self.provider(self.make_program()).settings_spec
        return spec

    def config_with_secret(self, setting: Setting | None, value: str = "") -> dict[str, Any]:
        """:attr:`provider_config` without any webhook secret, plus ``value`` under
        ``setting`` (in a list when it holds ``many``); ``None`` adds nothing."""
        secret_keys = {s.key for s in self.spec().webhook_secret_settings()}
        config = {k: v for k, v in self.provider_config.items() if k not in secret_keys}
        if setting is not None:
            config[setting.key] = [value] if setting.many else value
        return config

    def other_config(self) -> dict[str, Any]:
        """Settings verifying with a secret the site never configured."""
        if self.other_secret_config is not None:
            return {**self.provider_config, **self.other_secret_config}
        settings = self.spec().webhook_secret_settings()
        if not settings:
            pytest.fail(
                f"{self.provider_name!r} declares no setting that verifies webhooks; declare "
                "one in its settings_spec or set other_secret_config"
            )
        return self.config_with_secret(settings[0], "a-secret-this-site-never-configured")

    def paid_body(self, program: MembershipProgram) -> bytes:
        """The body of the webhook a paid checkout sends."""
        return self.pay(self.provider(program), self.start(program)).body

    def assert_nothing_stored(self, program: MembershipProgram) -> None:
        assert program.store.memberships.for_member(MEMBER) == []
        assert program.store.grants.for_member(MEMBER) == []
        assert not program.access(_GOLD, MEMBER).allowed

    # -- registration ----------------------------------------------------------------------
    def test_registers_through_the_hook_under_its_name(self) -> None:
        providers = self.registry(self.provider_config, development=True)

        assert self.provider_name in providers
        assert providers[self.provider_name].name == self.provider_name

    def test_satisfies_the_provider_protocol(self) -> None:
        provider = self.provider(self.make_program())

        assert isinstance(provider, Provider)
        assert isinstance(provider.refetch_subscriptions, bool)

    def test_name_is_lower_case_and_url_safe(self) -> None:
        assert _NAME.match(self.provider(self.make_program()).name)

    # -- declared settings -----------------------------------------------------------------
    def test_declares_its_settings_in_a_settings_spec(self) -> None:
        provider = self.provider(self.make_program())

        assert isinstance(provider.settings_spec, SettingsSpec)
        assert isinstance(type(provider).settings_spec, SettingsSpec), "a class attribute"

    def test_receiving_webhooks_it_declares_a_setting_that_verifies_them(self) -> None:
        spec = self.spec()
        if not spec.receives_webhooks:
            pytest.skip(f"{self.provider_name!r} declares that it receives no webhooks")

        assert spec.webhook_secret_settings(), (
            "a provider receiving webhooks must declare the setting holding their signing "
            "secret (Setting(..., secret=True, verifies_webhooks=True))"
        )

    def test_every_declared_webhook_secret_is_read(self) -> None:
        for setting in self.spec().webhook_secret_settings():
            # Outside development mode: the key alone is enough to receive webhooks.
            program = self.make_program(self.config_with_secret(setting, "s1"), development=False)
            first = self.provider(program)
            second = self.provider(
                self.make_program(self.config_with_secret(setting, "s2"), development=False)
            )
            signed = self.sign(first, self.paid_body(program))

            assert first.parse_webhook(signed.headers, signed.body), (
                f"a webhook signed with {setting.key!r} = 's1' did not verify under it"
            )
            if _verifies(second, signed):
                pytest.fail(
                    f"a webhook signed with {setting.key!r} = 's1' verified under "
                    f"{setting.key!r} = 's2': the provider does not read {setting.key!r}"
                )

    def test_a_secret_set_under_any_declared_key_replaces_the_public_dev_default(self) -> None:
        spec = self.spec()
        if not spec.has_dev_default():
            pytest.skip(f"{self.provider_name!r} declares no public development secret")
        body = self.paid_body(self.make_program())
        forged = []
        for setting in spec.webhook_secret_settings():
            if setting.dev_default is not None:
                config = self.config_with_secret(setting, setting.dev_default)
                forged.append(self.sign(self.provider(self.make_program(config)), body))

        for setting in spec.webhook_secret_settings():
            own = self.provider(self.make_program(self.config_with_secret(setting, "s1")))
            for webhook in forged:
                if _verifies(own, webhook):
                    pytest.fail(
                        f"with {setting.key!r} set, a webhook signed with a public "
                        "development default still verified; a secret of the site's own "
                        "must replace it"
                    )

    def test_in_development_mode_without_a_secret_it_verifies_with_its_public_dev_default(
        self,
    ) -> None:
        spec = self.spec()
        if not spec.has_dev_default():
            pytest.skip(f"{self.provider_name!r} declares no public development secret")
        bare = self.provider(self.make_program(self.config_with_secret(None)))
        body = self.paid_body(self.make_program())

        for setting in spec.webhook_secret_settings():
            if setting.dev_default is None:
                continue
            public = self.provider(
                self.make_program(self.config_with_secret(setting, setting.dev_default))
            )
            signed = self.sign(public, body)

            assert bare.parse_webhook(signed.headers, signed.body), (
                f"with no secret set, a webhook signed with {setting.key!r}'s dev_default "
                "did not verify"
            )

    def test_without_a_secret_of_its_own_it_is_withheld_outside_development_mode(self) -> None:
        spec = self.spec()
        if not spec.receives_webhooks:
            pytest.skip(f"{self.provider_name!r} declares that it receives no webhooks")
        configs = [self.config_with_secret(None)] + [
            self.config_with_secret(s, s.dev_default)
            for s in spec.webhook_secret_settings()
            if s.dev_default is not None
        ]

        for config in configs:
            try:
                providers = self.registry(config, development=False)
            except PluginError:
                continue  # the provider refused to be built: no less safe

            assert self.provider_name not in providers
            assert spec.webhook_secret_settings()[0].key in providers.withheld[self.provider_name]

    def test_without_a_secret_or_dev_default_it_is_withheld_in_development_mode_too(
        self,
    ) -> None:
        spec = self.spec()
        if spec.has_dev_default() or not spec.receives_webhooks:
            pytest.skip(f"{self.provider_name!r} falls back to a public development secret")

        try:
            providers = self.registry(self.config_with_secret(None), development=True)
        except PluginError:
            return  # the provider refused to be built: no less safe

        assert self.provider_name not in providers
        assert "no webhook secret" in providers.withheld[self.provider_name]

    def test_every_required_setting_is_required(self) -> None:
        required = [s for s in self.spec().settings if s.required]
        if not required:
            pytest.skip(f"{self.provider_name!r} declares no required setting")

        for setting in required:
            config = {k: v for k, v in self.provider_config.items() if k != setting.key}
            try:
                providers = self.registry(config, development=True)
            except PluginError:
                continue  # refused, as a required setting should be
            assert self.provider_name not in providers, (
                f"{self.provider_name!r} was registered without its required setting "
                f"{setting.key!r}; raise PluginError naming it (or drop required=True)"
            )

    def test_a_value_with_a_live_prefix_is_live(self) -> None:
        spec = self.spec()
        live = [s for s in spec.settings if s.live_prefixes]
        if not live:
            pytest.skip(f"{self.provider_name!r} declares no setting with live_prefixes")

        for setting in live:
            for prefix in setting.live_prefixes:
                value = f"{prefix}contract"
                assert spec.is_live({setting.key: [value] if setting.many else value}), (
                    f"{setting.key!r} = {value!r} begins with a live prefix but is not live"
                )

    def test_a_value_without_a_live_prefix_is_not_live(self) -> None:
        spec = self.spec()
        live = [s for s in spec.settings if s.live_prefixes]
        if not live:
            pytest.skip(f"{self.provider_name!r} declares no setting with live_prefixes")

        for setting in live:
            value = "contract-test-value"
            assert not spec.is_live({setting.key: [value] if setting.many else value}), (
                f"{setting.key!r} = {value!r} is live; are its live_prefixes "
                f"{setting.live_prefixes!r} too short (an empty one matches everything)?"
            )

    def test_receives_webhooks_says_whether_it_accepts_a_signed_one(self) -> None:
        program = self.make_program()
        provider = self.provider(program)
        signed = self.sign(provider, self.paid_body(program))

        if provider.settings_spec.receives_webhooks:
            assert provider.parse_webhook(signed.headers, signed.body)
        else:
            with pytest.raises(SignatureError):
                provider.parse_webhook(signed.headers, signed.body)

    # -- checkout --------------------------------------------------------------------------
    def test_checkout_returns_a_session_naming_the_provider(self) -> None:
        session = self.start(self.make_program())

        assert session.provider == self.provider_name
        assert session.id
        assert session.url or session.instructions, "a session needs a url or instructions"

    def test_same_idempotency_key_gives_the_same_session_and_customer(self) -> None:
        program = self.make_program()

        first, retry = self.start(program), self.start(program)

        assert retry.id == first.id
        assert retry.customer_id == first.customer_id

    def test_paid_checkout_grants_access(self) -> None:
        program = self.make_program()
        assert not program.access(_GOLD, MEMBER).allowed
        webhook = self.pay(self.provider(program), self.start(program))

        results = program.handle_webhook(self.provider_name, webhook.headers, webhook.body)

        assert [r.outcome for r in results] == [Outcome.APPLIED]
        assert program.access(_GOLD, MEMBER).allowed
        assert self.hooks.names() == ["membership_activated"]

    def test_webhook_events_name_the_provider_and_the_member(self) -> None:
        program = self.make_program()
        webhook = self.pay(self.provider(program), self.start(program))

        events = self.provider(program).parse_webhook(webhook.headers, webhook.body)

        assert events, "a paid checkout's webhook must carry an event"
        assert {e.provider for e in events} == {self.provider_name}
        assert all(e.id for e in events)
        assert all(e.member_id in (MEMBER, None) for e in events)

    # -- bad input changes nothing ---------------------------------------------------------
    def test_tampered_body_raises_signature_error_and_changes_nothing(self) -> None:
        program = self.make_program()
        webhook = self.pay(self.provider(program), self.start(program))
        tampered = webhook.body[:-1] + bytes([webhook.body[-1] ^ 0x01])

        with pytest.raises(SignatureError):
            program.handle_webhook(self.provider_name, webhook.headers, tampered)

        self.assert_nothing_stored(program)
        results = program.handle_webhook(self.provider_name, webhook.headers, webhook.body)
        assert [r.outcome for r in results] == [Outcome.APPLIED]

    def test_missing_signature_raises_signature_error_and_changes_nothing(self) -> None:
        program = self.make_program()
        webhook = self.pay(self.provider(program), self.start(program))

        with pytest.raises(SignatureError):
            program.handle_webhook(
                self.provider_name, {"Content-Type": "application/json"}, webhook.body
            )

        self.assert_nothing_stored(program)

    def test_signature_made_with_another_secret_raises_signature_error(self) -> None:
        program = self.make_program()
        webhook = self.pay(self.provider(program), self.start(program))
        other = self.provider(self.make_program(self.other_config()))
        forged = self.sign(other, webhook.body)

        with pytest.raises(SignatureError):
            program.handle_webhook(self.provider_name, forged.headers, forged.body)

        self.assert_nothing_stored(program)

    def test_signed_non_json_body_raises_malformed_event(self) -> None:
        program = self.make_program()
        webhook = self.sign(self.provider(program), b"this is not JSON {")

        with pytest.raises(MalformedEvent):
            program.handle_webhook(self.provider_name, webhook.headers, webhook.body)

        self.assert_nothing_stored(program)

    def test_replayed_webhook_is_a_duplicate_and_fires_no_second_hook(self) -> None:
        program = self.make_program()
        webhook = self.pay(self.provider(program), self.start(program))
        program.handle_webhook(self.provider_name, webhook.headers, webhook.body)

        replay = program.handle_webhook(self.provider_name, webhook.headers, webhook.body)

        assert [r.outcome for r in replay] == [Outcome.DUPLICATE]
        assert self.hooks.names() == ["membership_activated"]

    # -- managing a subscription -----------------------------------------------------------
    def test_cancel_at_period_end_keeps_access_until_the_period_ends(self) -> None:
        program = self.make_program()
        membership = self.subscribe(program)

        canceled = program.cancel(membership.id, reason="too expensive")

        assert canceled.cancel_at_period_end is True
        assert program.access(_GOLD, MEMBER).allowed

    def test_resume_undoes_a_cancel_at_period_end(self) -> None:
        program = self.make_program()
        membership = self.subscribe(program)
        program.cancel(membership.id)

        resumed = program.resume(membership.id)

        assert resumed.cancel_at_period_end is False
        assert program.access(_GOLD, MEMBER).allowed

    def test_fetch_subscription_returns_the_current_state(self) -> None:
        program = self.make_program()
        membership = self.subscribe(program)
        assert membership.provider_subscription_id is not None
        provider = self.provider(program)
        provider.cancel_subscription(membership.provider_subscription_id, at_period_end=True)

        snapshot = provider.fetch_subscription(membership.provider_subscription_id)

        assert snapshot is not None
        assert snapshot.id == membership.provider_subscription_id
        assert snapshot.customer_id == membership.provider_customer_id
        assert snapshot.price == self.price_id
        assert snapshot.status in (Status.ACTIVE, Status.TRIALING)
        assert snapshot.cancel_at_period_end is True

    def test_fetch_subscription_returns_none_for_an_unknown_id(self) -> None:
        provider = self.provider(self.make_program())

        assert provider.fetch_subscription("sub_that_never_existed") is None

    def test_portal_url_is_a_string_or_none(self) -> None:
        program = self.make_program()
        session = self.start(program)

        url = self.provider(program).portal_url(
            session.customer_id or "cus_unknown", "https://example.com/account/"
        )

        assert url is None or (isinstance(url, str) and url)

    # -- failures --------------------------------------------------------------------------
    def test_canceling_an_unknown_subscription_raises_provider_error(self) -> None:
        provider = self.provider(self.make_program())

        with pytest.raises(ProviderError):
            provider.cancel_subscription("sub_that_never_existed", at_period_end=True)

    def test_an_outage_surfaces_as_provider_error(self) -> None:
        program = self.make_program()
        self.break_provider(self.provider(program))

        with pytest.raises(ProviderError):
            self.start(program)

        assert program.store.memberships.for_member(MEMBER) == []
