"""Staff handle a member's data request from the admin's member page: download the
member's data (JSON) for a request received by mail, or erase the member. Erasure needs
``delete_membership``, is confirmed with a reason, and is written to Wagtail's audit log
(``wagtail_paywall.erase``) under the member's pseudonym. See ``docs/privacy.md``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from membership_sdk.privacy import ErasureBlocked

from ..models import Erasure
from ..privacy import erase, export
from . import staff

ERASE_PERMISSION = "wagtail_paywall.delete_membership"


@staff._staff_view
def export_member(request: HttpRequest, member_id: str) -> HttpResponse:
    """The member's data, as the member would download it."""
    action = staff._Action(request, member_id, staff.VIEW_PERMISSION)
    document = export(action.member_id)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True),
        content_type="application/json; charset=utf-8",
    )
    day = timezone.now().date().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="membership-data-{action.member_id}-{day}.json"'
    )
    return response


@staff._staff_view
def erase_member(request: HttpRequest, member_id: str) -> HttpResponse:
    """GET: what an erasure does, and a reason to give; POST: erase the member."""
    action = staff._Action(request, member_id, ERASE_PERMISSION)
    form = staff.ReasonForm(request.POST if request.method == "POST" else None)
    title = _("Erase the membership data of %(member)s") % {"member": action.member.get_username()}
    if request.method != "POST" or not form.is_valid():
        return action.confirm(title, form=form, erasure=True, action_label=_("Erase"))
    reason = form.cleaned_data["reason"]
    try:
        erasure = erase(action.member_id, source=Erasure.Source.STAFF, program=action.program)
    except ErasureBlocked as exc:
        messages.error(
            request,
            _("Nothing was erased yet: %(error)s The erasure is pending and will be retried.")
            % {"error": exc},
        )
        return action.back()
    # Who erased and why, never the pseudonym: the log is on the user, and must not tie
    # the pseudonymised records back to them.
    staff.record(request, action.member, "erase", "", reason=reason)
    messages.success(
        request,
        _("Erased: subscriptions canceled, data deleted or anonymised (kept as %(pseudonym)s).")
        % {"pseudonym": erasure.pseudonym},
    )
    return action.back()


def urlpatterns() -> list[Any]:
    """Under the members viewset (``paywall_members:``)."""
    return [
        path("<str:member_id>/data.json", export_member, name="privacy_export"),
        path("<str:member_id>/erase/", erase_member, name="privacy_erase"),
    ]
