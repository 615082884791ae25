"""Maintain the message catalogues of the adapter (``src/wagtail_paywall/locale``) and of
the demo site (``examples/demo_site/demo/locale``).

Usage, from the repository root with the dev virtualenv::

    python scripts/catalogues.py extract            # makemessages, every app and language
    python scripts/catalogues.py todo de > de.txt   # untranslated or fuzzy, numbered
    python scripts/catalogues.py fill de de.txt done.txt  # write translations back
    python scripts/catalogues.py compile            # .po -> .mo
    python scripts/catalogues.py status             # what is left, per app and language

``todo`` and ``fill`` take ``--app demo`` for the demo's catalogue. ``todo`` prints one
message a line, ``N<TAB>msgid`` (plural entries as ``msgid || msgid_plural``, a context as
``context:: msgid``; newlines as ``\\n``). A translator answers with ``N<TAB>translation``
(or ``N translation``) lines for the same numbers, plural forms separated by `` || ``, as
many as the language has; ``fill`` checks that each answer keeps the placeholders of its
message and writes it in, clearing the fuzzy flag. See ``docs/i18n.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
#: Where each app's ``locale`` folder lives; makemessages runs in these folders.
APPS = {
    "wagtail_paywall": ROOT / "src" / "wagtail_paywall",
    "demo": ROOT / "examples" / "demo_site" / "demo",
}
LANGUAGES = ("de", "nl", "pl", "da")
#: Plural rules written into the headers: gettext's (Polish has three forms; Django's own
#: Polish catalogue uses four, and Django applies each catalogue's own rule).
PLURAL_FORMS = {
    "de": "nplurals=2; plural=(n != 1);",
    "nl": "nplurals=2; plural=(n != 1);",
    "da": "nplurals=2; plural=(n != 1);",
    "pl": (
        "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
    ),
}
TEAMS = {"de": "German", "nl": "Dutch", "pl": "Polish", "da": "Danish"}
SEP = " || "


def catalogue(language: str, app: str = "wagtail_paywall") -> Path:
    return APPS[app] / "locale" / language / "LC_MESSAGES" / "django.po"


#: ``%(name)s``, ``%s``/``%d``, ``%%`` and ``{name}``; as tests/wagtail/test_translations.py.
PLACEHOLDER = re.compile(r"%%|%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")


def placeholders(text: str) -> list[str]:
    """The placeholders of ``text``, sorted."""
    return sorted(PLACEHOLDER.findall(text))


def plural_form_fits(entry: polib.POEntry, form: int, text: str) -> bool:
    """Whether plural ``form`` keeps the placeholders: those of the plural message, or
    for the first form (the one for 1 in these languages) those of the singular."""
    found = placeholders(text)
    if found == placeholders(entry.msgid_plural):
        return True
    return form == 0 and found == placeholders(entry.msgid)


def extract(languages: list[str], app: str) -> None:
    """Run Django's ``makemessages`` over ``app``, then set each header."""
    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wagtail.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    here = Path.cwd()
    os.chdir(APPS[app])
    try:
        call_command(
            "makemessages", locale=languages, add_location="file", no_obsolete=True, verbosity=0
        )
    finally:
        os.chdir(here)
    for language in languages:
        po = polib.pofile(str(catalogue(language, app)), wrapwidth=79)
        set_header(po, language, app)
        po.save()


def set_header(po: polib.POFile, language: str, app: str) -> None:
    """The header every catalogue carries (makemessages writes a template's)."""
    po.header = (
        f"{TEAMS.get(language, language)} messages of {app} (membership-sdk).\n"
        "This file is distributed under the same license as the membership-sdk package.\n"
        "Update it with scripts/catalogues.py (docs/i18n.md)."
    )
    po.metadata.update(
        {
            "Project-Id-Version": app,
            "Language": language,
            "Language-Team": TEAMS.get(language, language),
            "Last-Translator": "membership-sdk authors",
            "Plural-Forms": PLURAL_FORMS.get(language, po.metadata.get("Plural-Forms", "")),
        }
    )
    if po.metadata.get("PO-Revision-Date", "").startswith("YEAR"):
        po.metadata["PO-Revision-Date"] = po.metadata.get("POT-Creation-Date", "")
    po.metadata_is_fuzzy = False


def key(entry: polib.POEntry) -> str:
    text = entry.msgid + (SEP + entry.msgid_plural if entry.msgid_plural else "")
    text = text.replace("\n", "\\n")
    return f"{entry.msgctxt}:: {text}" if entry.msgctxt else text


def todo(language: str, app: str = "wagtail_paywall") -> list[polib.POEntry]:
    po = polib.pofile(str(catalogue(language, app)))
    return [e for e in po if not e.obsolete and (not e.translated() or e.fuzzy)]


def fill(language: str, todo_file: Path, answers: Path, app: str = "wagtail_paywall") -> int:
    """Write the numbered answers for the numbered ``todo_file`` into the catalogue."""
    asked: dict[str, str] = {}
    for line in todo_file.read_text(encoding="utf-8").splitlines():
        number, _, text = line.partition("\t")
        asked[number] = text
    path = catalogue(language, app)
    po = polib.pofile(str(path), wrapwidth=79)
    by_key = {key(e): e for e in po if not e.obsolete}
    forms = int(PLURAL_FORMS[language].split(";")[0].split("=")[1])
    written, problems = 0, []
    for line in answers.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        number, _, text = line.strip().partition(" ") if "\t" not in line else line.partition("\t")
        entry = by_key.get(asked.get(number.strip(), ""))
        if entry is None:
            problems.append(f"{number}: no such message in {todo_file} or the catalogue")
            continue
        text = text.replace("\\n", "\n")
        if entry.msgid_plural:
            parts = text.split(SEP)
            if len(parts) != forms:
                problems.append(f"{number}: {len(parts)} plural forms, {language} has {forms}")
                continue
            bad = [p for i, p in enumerate(parts) if not plural_form_fits(entry, i, p)]
            if bad:
                problems.append(f"{number}: placeholders of {key(entry)!r} differ in {bad!r}")
                continue
            entry.msgstr_plural = dict(enumerate(parts))
        else:
            if placeholders(text) != placeholders(entry.msgid):
                problems.append(f"{number}: placeholders differ from {entry.msgid!r}: {text!r}")
                continue
            entry.msgstr = text
        if entry.fuzzy:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
        written += 1
    if written:
        po.metadata["PO-Revision-Date"] = time.strftime("%Y-%m-%d %H:%M+0000", time.gmtime())
    set_header(po, language, app)
    po.save()
    for problem in problems:
        print(problem, file=sys.stderr)
    return written


def compile_all(languages: list[str], app: str) -> None:
    for language in languages:
        path = catalogue(language, app)
        polib.pofile(str(path)).save_as_mofile(str(path.with_suffix(".mo")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("extract", "compile"):
        command = commands.add_parser(name)
        command.add_argument("languages", nargs="*")
        command.add_argument("--app", choices=sorted(APPS))
    for name in ("todo", "fill"):
        command = commands.add_parser(name)
        command.add_argument("language")
        command.add_argument("--app", choices=sorted(APPS), default="wagtail_paywall")
        if name == "fill":
            command.add_argument("todo_file", type=Path)
            command.add_argument("answers", type=Path)
    commands.add_parser("status")
    args = parser.parse_args(argv)
    if args.command in ("extract", "compile"):
        run = extract if args.command == "extract" else compile_all
        for app in [args.app] if args.app else list(APPS):
            run(args.languages or list(LANGUAGES), app)
    elif args.command == "todo":
        for number, entry in enumerate(todo(args.language, args.app), 1):
            print(f"{number}\t{key(entry)}")
    elif args.command == "fill":
        written = fill(args.language, args.todo_file, args.answers, args.app)
        print(f"{written} written")
    else:
        for app in APPS:
            for language in LANGUAGES:
                print(f"{app} {language}: {len(todo(language, app))} to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
