"""The adapter speaks German, Dutch, Polish and Danish: every message of its code is in
every catalogue, translated, not fuzzy, with the placeholders of its source; each committed
``.mo`` is the compiled ``.po``; pages follow the visitor's language and emails the
member's. See ``docs/i18n.md``.
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation
from wagtail.users.models import UserProfile

import wagtail_paywall
from membership_sdk.providers.fake import FakeProvider
from wagtail_paywall import program as program_module
from wagtail_paywall.billing.language import member_language
from wagtail_paywall.models import Membership, Price
from wagtail_paywall.tasks import deliver

pytest_plugins = ["tests.wagtail.journey_fixtures"]

APP = Path(wagtail_paywall.__file__).resolve().parent
LANGUAGES = ("de", "nl", "pl", "da")
PLURALS = {"de": 2, "nl": 2, "pl": 3, "da": 2}
#: ``%(name)s``, ``%s``/``%d``, ``%%`` and ``{name}``, as scripts/catalogues.py reads them.
PLACEHOLDER = re.compile(r"%%|%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")


def po_path(language: str) -> Path:
    return APP / "locale" / language / "LC_MESSAGES" / "django.po"


def entries(language: str) -> list[polib.POEntry]:
    return [e for e in polib.pofile(str(po_path(language))) if not e.obsolete]


def label(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt}|{entry.msgid}" if entry.msgctxt else entry.msgid


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.fixture(autouse=True)
def _language_restored() -> Iterator[None]:
    # LocaleMiddleware leaves the last request's language active in the thread.
    yield
    translation.deactivate()


# -- the catalogues ---------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    untranslated = [label(e) for e in entries(language) if not e.translated()]
    fuzzy = [label(e) for e in entries(language) if e.fuzzy]

    assert untranslated == [], f"untranslated in {language}: {untranslated}"
    assert fuzzy == [], f"fuzzy in {language}: {fuzzy}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_of_their_message(language: str) -> None:
    wrong = []
    for entry in entries(language):
        if entry.msgid_plural:
            plural = placeholders(entry.msgid_plural)
            for form, text in sorted(entry.msgstr_plural.items()):
                found = placeholders(text)
                # The first form is the one for 1: it may leave the number out, as the
                # English singular does.
                if found != plural and not (form == 0 and found == placeholders(entry.msgid)):
                    wrong.append((label(entry), form, text))
        elif placeholders(entry.msgstr) != placeholders(entry.msgid):
            wrong.append((label(entry), None, entry.msgstr))

    assert wrong == [], f"placeholders differ in {language}: {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_messages_have_every_form_of_the_language(language: str) -> None:
    catalogue = polib.pofile(str(po_path(language)))
    header = catalogue.metadata["Plural-Forms"]

    assert f"nplurals={PLURALS[language]};" in header
    short = [
        label(e)
        for e in entries(language)
        if e.msgid_plural and sorted(e.msgstr_plural) != list(range(PLURALS[language]))
    ]
    assert short == []


def test_every_catalogue_holds_the_same_messages() -> None:
    messages = {language: {label(e) for e in entries(language)} for language in LANGUAGES}

    for language in LANGUAGES[1:]:
        assert messages[language] == messages["de"], language


def compiled(path: Path) -> dict[Any, str]:
    with path.open("rb") as handle:
        catalog = dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
    catalog.pop("", None)  # the header: each compiler orders it its own way
    return catalog


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(language: str, tmp_path: Path) -> None:
    fresh = tmp_path / "django.mo"
    polib.pofile(str(po_path(language))).save_as_mofile(str(fresh))

    assert compiled(po_path(language).with_suffix(".mo")) == compiled(fresh), (
        f"locale/{language}/LC_MESSAGES/django.mo is stale: run "
        "python scripts/catalogues.py compile"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_compiles_with_gettexts_checks(language: str, tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed; the pure-Python checks still ran")
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "django.mo"), str(po_path(language))],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


@pytest.fixture
def extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed German catalogue, merged with the messages extracted afresh from a
    copy of the app's code and templates."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.skip("GNU gettext (xgettext, msgmerge) is needed to extract messages")
    copy = tmp_path / "wagtail_paywall"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["de"], verbosity=0)
    return copy / "locale" / "de" / "LC_MESSAGES" / "django.po"


def test_every_message_in_the_code_is_in_the_catalogues(extracted: Path) -> None:
    merged = [e for e in polib.pofile(str(extracted)) if not e.obsolete]
    missing = [label(e) for e in merged if not e.translated() or e.fuzzy]

    assert missing == [], (
        f"messages of the code missing from the catalogues: {missing}; run "
        "python scripts/catalogues.py extract, translate them, then compile"
    )


DEMO_LOCALE = Path(__file__).resolve().parents[2] / "examples" / "demo_site" / "demo" / "locale"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_demo_sites_own_catalogue_is_complete_and_compiled(
    language: str, tmp_path: Path
) -> None:
    po = DEMO_LOCALE / language / "LC_MESSAGES" / "django.po"
    catalogue = [e for e in polib.pofile(str(po)) if not e.obsolete]
    fresh = tmp_path / "django.mo"
    polib.pofile(str(po)).save_as_mofile(str(fresh))

    assert [label(e) for e in catalogue if not e.translated() or e.fuzzy] == []
    assert compiled(po.with_suffix(".mo")) == compiled(fresh)


def test_django_loads_the_catalogues() -> None:
    expected = {"de": "Ihre Mitgliedschaft", "nl": "Je lidmaatschap", "pl": "Twoja subskrypcja"}
    expected["da"] = "Dit medlemskab"

    for language, text in expected.items():
        with translation.override(language):
            assert translation.gettext("Your membership") == text


def test_polish_counts_take_three_forms() -> None:
    with translation.override("pl"):
        said = [
            translation.ngettext("%(months)s month", "%(months)s months", n) % {"months": n}
            for n in (1, 3, 5, 22, 25)
        ]

    assert said == ["1 miesiąc", "3 miesiące", "5 miesięcy", "22 miesiące", "25 miesięcy"]


def test_the_german_legal_button_wording_is_exact() -> None:
    with translation.override("de"):
        button = translation.pgettext(
            "§312k BGB cancellation button; the German wording the law requires is: "
            "Verträge hier kündigen",
            "Cancel contracts here",
        )
        confirm = translation.pgettext(
            "§312k BGB confirmation button; the German wording the law requires is: Jetzt kündigen",
            "Cancel now",
        )

    assert (button, confirm) == ("Verträge hier kündigen", "Jetzt kündigen")


# -- pages in the visitor's language, emails in the member's -----------------------------------
LOCALE_MIDDLEWARE = [
    *settings.MIDDLEWARE[:1],
    "django.middleware.locale.LocaleMiddleware",
    *settings.MIDDLEWARE[1:],
]


@pytest.fixture
def localised() -> Iterator[None]:
    """A site that serves each visitor in their language (LocaleMiddleware)."""
    with override_settings(
        MIDDLEWARE=LOCALE_MIDDLEWARE,
        LANGUAGES=[
            ("en", "English"),
            ("de", "Deutsch"),
            ("nl", "Nederlands"),
            ("pl", "Polski"),
            ("da", "Dansk"),
        ],
    ):
        yield


@pytest.mark.django_db
def test_the_pricing_page_speaks_the_visitors_language(
    client: Client, catalog: Any, localised: None
) -> None:
    page = client.get("/paywall/pricing/", HTTP_ACCEPT_LANGUAGE="de")

    assert page.status_code == 200
    assert "<h1>Angebote und Preise</h1>" in page.content.decode()


@pytest.fixture
def checkout_in() -> Callable[..., Any]:
    def start(client: Client, language: str) -> Any:
        return client.post(
            "/paywall/checkout/",
            {"price": "premium-yearly", "provider": "fake"},
            HTTP_ACCEPT_LANGUAGE=language,
        )

    return start


@pytest.mark.django_db
def test_a_checkout_remembers_the_members_language(
    reader: Any,
    login: Callable[..., Client],
    checkout_in: Callable[..., Any],
    catalog: Any,
    localised: None,
) -> None:
    response = checkout_in(login(reader), "de")

    assert response.status_code == 302
    assert UserProfile.objects.get(user=reader).preferred_language == "de"
    assert member_language(reader) == "de"


@pytest.mark.django_db
def test_an_editors_admin_language_is_never_overwritten_from_the_front_end(
    editor: Any,
    login: Callable[..., Client],
    checkout_in: Callable[..., Any],
    catalog: Any,
    localised: None,
) -> None:
    UserProfile.objects.create(user=editor, preferred_language="nl")

    checkout_in(login(editor), "de")

    assert UserProfile.objects.get(user=editor).preferred_language == "nl"
    assert member_language(editor) == "nl"


@pytest.mark.django_db
def test_a_member_who_never_chose_a_language_is_written_to_in_the_sites(
    reader: Any, localised: None
) -> None:
    assert member_language(reader) == "en"
    with override_settings(LANGUAGE_CODE="da"):
        assert member_language(reader) == "da"


@pytest.mark.django_db
def test_a_site_in_one_language_writes_to_everyone_in_it(reader: Any) -> None:
    UserProfile.objects.create(user=reader, preferred_language="de")

    with override_settings(LANGUAGE_CODE="nl"):
        assert member_language(reader) == "nl"


@pytest.mark.django_db
def test_a_stored_language_the_site_no_longer_offers_falls_back_to_the_sites(
    reader: Any, localised: None
) -> None:
    UserProfile.objects.create(user=reader, preferred_language="fr")

    assert member_language(reader) == "en"


@pytest.mark.django_db
def test_a_german_member_gets_the_payment_failed_email_in_german(
    reader: Any,
    login: Callable[..., Client],
    checkout_in: Callable[..., Any],
    subscribe: Callable[..., Membership],
    fake: FakeProvider,
    localised: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    checkout_in(login(reader), "de")
    membership = subscribe(reader, "premium-yearly")
    mail.outbox.clear()
    translation.activate("en")  # the webhook arrives in no language of the member's

    with django_capture_on_commit_callbacks(execute=True):
        webhook = fake.fail_payment(membership.provider_subscription_id)
        deliver("fake", webhook.headers, webhook.body)

    (email,) = mail.outbox
    assert email.subject == "Ihre Zahlung ist nicht durchgegangen"
    assert "Hallo reader," in email.body
    assert "Bitte aktualisieren Sie Ihre Zahlungsmethode" in email.body
    # Writing in German leaves the language of whatever runs next untouched.
    assert translation.get_language() == "en"


@pytest.mark.django_db
def test_a_gift_is_announced_in_its_buyers_language_to_buyer_and_recipient(
    reader: Any,
    catalog: dict[str, Any],
    login: Callable[..., Client],
    localised: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    Price.objects.create(
        key="premium-gift-1",
        tier=catalog["premium"],
        amount=1000,
        currency="EUR",
        interval=Price.Interval.ONE_OFF,
        gift_months=1,
        provider_ids={"fake": "fake_premium_gift_1"},
    )
    program_module.reset_program()  # the program reads the new price
    fake = program_module.get_program().providers["fake"]
    assert isinstance(fake, FakeProvider)
    UserProfile.objects.create(user=reader, preferred_language="pl")
    client = login(reader)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/paywall/gifts/give/",
            {"price": "premium-gift-1", "attempt": "a1", "recipient_email": "bo@example.com"},
        )
        webhook = fake.complete_checkout(response["Location"].rstrip("/").rsplit("/", 1)[1])
        deliver("fake", webhook.headers, webhook.body)

    subjects = {tuple(m.to): m.subject for m in mail.outbox}
    assert subjects == {
        ("reader@example.com",): "Twój prezent Premium: kod do realizacji",
        ("bo@example.com",): "Otrzymałeś w prezencie Premium",
    }
