"""The member's data on the account page: download everything held about them (JSON), and
erase it, confirmed with their password. See ``docs/privacy.md``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from membership_sdk.privacy import ErasureBlocked

from ..models import Erasure
from ..privacy import erase, export
from .base import account_redirect, member_required

TEMPLATE = "wagtail_paywall/privacy_erase.html"
#: Wrong passwords a member may enter on the erase form per :data:`FAILURE_WINDOW`
#: seconds (counted in the cache from the first one) before it answers 429.
MAX_PASSWORD_FAILURES = 5
FAILURE_WINDOW = 3600


@never_cache
@require_GET
@member_required("paywall:account")
def export_data(request: HttpRequest) -> HttpResponse:
    """Everything the paywall holds about the signed-in member, as a JSON download."""
    document = export(str(request.user.pk))
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True),
        content_type="application/json; charset=utf-8",
    )
    day = timezone.now().date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="membership-data-{day}.json"'
    return response


class EraseForm(forms.Form):
    """The member confirms, with their password when they have one. ``member`` is the
    account the page was shown to: posted for another (a page left open in another
    session, a forged form) it is a 404 and erases nothing."""

    member = forms.CharField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=gettext_lazy("Yes, erase my membership data and cancel my subscriptions now"),
    )
    password = forms.CharField(
        label=gettext_lazy("Your password"), widget=forms.PasswordInput, required=False
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            del self.fields["password"]  # signed in elsewhere (SSO): the checkbox confirms

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password", "")
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your password."))
        return password


@never_cache
@require_http_methods(["GET", "POST"])
@member_required("paywall:account")
def erase_data(request: HttpRequest) -> HttpResponseBase:
    """GET: what erasure does, and the form; POST: erase the signed-in member."""
    member_id = str(request.user.pk)
    if request.method != "POST":
        form = EraseForm(initial={"member": member_id}, user=request.user)
        return render(request, TEMPLATE, {"form": form})
    if request.POST.get("member") != member_id:
        raise Http404(_("This page was shown for another account."))
    failures = f"wagtail_paywall:erase-failures:{member_id}"
    if cache.get(failures, 0) >= MAX_PASSWORD_FAILURES:
        form = EraseForm(initial={"member": member_id}, user=request.user)
        return render(request, TEMPLATE, {"form": form, "too_many": True}, status=429)
    form = EraseForm(request.POST, user=request.user)
    if not form.is_valid():
        if "password" in form.errors:
            cache.add(failures, 0, timeout=FAILURE_WINDOW)
            try:
                cache.incr(failures)
            except ValueError:  # expired between the two calls
                cache.set(failures, 1, timeout=FAILURE_WINDOW)
        return render(request, TEMPLATE, {"form": form}, status=400)
    try:
        erase(member_id, source=Erasure.Source.MEMBER)
    except ErasureBlocked as exc:
        return render(
            request,
            TEMPLATE,
            {
                "form": EraseForm(initial={"member": member_id}, user=request.user),
                "blocked": exc.provider,
                "retryable": exc.retryable,
            },
            status=503 if exc.retryable else 409,
        )
    return account_redirect(
        request,
        _("Your membership data was erased and your subscriptions were canceled."),
    )
