"""The "Import members" admin screen and the members CSV download.

Importing takes two steps: the upload runs a dry run and shows what would change (the
file is kept, under a random name only this session knows, in a private directory on the
server, never in the media storage, for at most :data:`KEEP_SECONDS`); "Import" then runs
it for real, shows the report and deletes the file. Both need
:data:`IMPORT_PERMISSION`; the download needs :data:`EXPORT_PERMISSION`. Files larger
than ``PAYWALL["IMPORT_MAX_BYTES"]`` are refused. The logic is
:mod:`wagtail_paywall.imports` and :mod:`wagtail_paywall.exports`. See
``docs/import-export.md``.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time as clock
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from membership_sdk.imports import ENCODINGS, ImportFileError, Platform, parse_tier_map

from .. import conf
from ..exports import csv_lines
from ..imports import OUTCOMES, import_members
from ..program import get_program
from .views import PaywallScreen, require

IMPORT_PERMISSION = "wagtail_paywall.add_grant"
EXPORT_PERMISSION = "wagtail_paywall.view_grant"
_SESSION_KEY = "paywall_member_imports"
_TOKEN = re.compile(r"[0-9a-f]{32}")
#: How long an upload is kept for its import after the dry run; older ones are deleted
#: whenever the screen is used.
KEEP_SECONDS = 3600

FORMAT_LABELS = {
    Platform.CSV: _("Generic CSV"),
    Platform.GHOST: _("Ghost members export"),
    Platform.SUBSTACK: _("Substack subscriber export"),
    Platform.MEMBERFUL: _("Memberful members export"),
}


class ImportForm(forms.Form):
    """What to import and how to map it; the file is asked for only on the first step."""

    file = forms.FileField(label=_("CSV file"), required=False)
    format = forms.ChoiceField(label=_("Exported from"), choices=list(FORMAT_LABELS.items()))
    tier_map = forms.CharField(
        label=_("Plan names to tiers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, the old platform's plan name = a tier, such as Gold=premium."),
    )
    tier = forms.ChoiceField(
        label=_("Tier of paid members with no plan"),
        required=False,
    )
    paid_through = forms.DateField(
        label=_("Paid through, when the file does not say"),
        required=False,
        help_text=_("Ghost's export has no end date for paid members: their comp ends here."),
    )
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=[(e, e) for e in ENCODINGS],
        initial="utf-8",
        help_text=_("Choose latin-1 or cp1252 for files saved by older versions of Excel."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (t.slug, t.name) for t in get_program().catalog.tiers
        ]

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        limit = int(conf.get("IMPORT_MAX_BYTES"))
        if upload is not None and upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s bytes; at most %(limit)s are accepted."),
                params={"size": upload.size, "limit": limit},
                code="too_large",
            )
        return upload

    def clean_tier_map(self) -> dict[str, str]:
        try:
            return parse_tier_map([self.cleaned_data.get("tier_map", "")])
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc), code="tier_map") from exc

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        day = data.get("paid_through")
        return {
            "tier_map": data["tier_map"],
            "default_tier": data.get("tier") or None,
            "default_paid_through": datetime.combine(day, time(), tzinfo=UTC) if day else None,
            "encoding": data["encoding"],
        }


class ImportView(PaywallScreen):
    """Upload, see the dry run, then import."""

    permission = IMPORT_PERMISSION
    template_name = "wagtail_paywall/admin/member_import.html"
    page_title = _("Import members")
    header_icon = "upload"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ImportForm())
        report = context.get("report")
        if report is not None:
            context["counts"] = [(o, report.counts[o]) for o in OUTCOMES]
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        token = request.POST.get("token", "")
        confirm = request.POST.get("action") == "import"
        if confirm:
            if not _TOKEN.fullmatch(token) or token not in request.session.get(_SESSION_KEY, []):
                form.add_error(None, _("That upload is gone; choose the file again."))
                return self.render_to_response(self.get_context_data(form=form), status=400)
        else:
            upload = form.cleaned_data.get("file")
            if upload is None:
                form.add_error("file", _("Choose a CSV file to import."))
                return self.render_to_response(self.get_context_data(form=form), status=400)
            token = secrets.token_hex(16)
            _save(_path(token), upload)
            kept = request.session.get(_SESSION_KEY, [])
            for old in kept[:-9]:
                _path(old).unlink(missing_ok=True)
            request.session[_SESSION_KEY] = [*kept[-9:], token]
        try:
            with _path(token).open("rb") as stream:
                report = import_members(
                    stream, form.cleaned_data["format"], dry_run=not confirm, **form.options()
                )
        except (ImportFileError, FileNotFoundError) as exc:
            _forget(request, token)
            gone = _("That upload is gone; choose the file again.")
            form.add_error(None, str(exc) if isinstance(exc, ImportFileError) else gone)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        if confirm:
            _forget(request, token)
        return self.render_to_response(
            self.get_context_data(form=form, report=report, token="" if confirm else token)
        )


def _folder() -> Path:
    """The private directory uploads are kept in (made, owner-only, when missing); the
    uploads in it older than :data:`KEEP_SECONDS` are deleted on the way."""
    configured = str(conf.get("IMPORT_UPLOAD_DIR") or "")
    folder = Path(configured or tempfile.gettempdir()) / "wagtail-paywall-imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
        raise ImproperlyConfigured(
            f"{str(folder)!r} belongs to another user: set PAYWALL['IMPORT_UPLOAD_DIR']"
        )
    stale = clock.time() - KEEP_SECONDS
    for path in folder.glob("*.csv"):
        try:
            if path.stat().st_mtime < stale:
                path.unlink()
        except FileNotFoundError:  # another process deleted it meanwhile
            pass
    return folder


def _path(token: str) -> Path:
    return _folder() / f"{token}.csv"


def _save(path: Path, upload: Any) -> None:
    """Write ``upload`` to ``path``, readable by this user only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _forget(request: HttpRequest, token: str) -> None:
    tokens = request.session.get(_SESSION_KEY, [])
    if token in tokens:
        request.session[_SESSION_KEY] = [t for t in tokens if t != token]
        _path(token).unlink(missing_ok=True)


@require_GET
def export_members(request: HttpRequest) -> HttpResponseBase:
    """Every member as CSV, streamed (:func:`wagtail_paywall.exports.csv_lines`)."""
    require(request, EXPORT_PERMISSION)
    response = StreamingHttpResponse(csv_lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="members.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
