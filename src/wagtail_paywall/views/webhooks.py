"""Providers' webhooks: verified, stored in the inbox, answered at once, applied by a task.

See ``docs/wagtail.md`` (The webhook inbox) and ``docs/stripe.md`` (Webhooks).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from membership_sdk import MalformedEvent, SignatureError

from .. import conf
from ..tasks import deliver
from .base import configured


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str) -> JsonResponse:
    """A provider's webhook: verified and stored in the inbox, answered at once, applied
    by a task. 400 for a bad signature or an unreadable body (nothing is stored); 413 for
    a body over ``PAYWALL["WEBHOOK_MAX_BYTES"]``; 404 for a provider this site does not
    use (installed but not configured, or switched off for want of a webhook secret of
    its own: see :func:`~.base.configured`); 200 for an event type that is ignored, and
    for a verified event of a shape this SDK version cannot read (``UnknownShape``: kept
    in the inbox as ``failed`` and retried, so an upgraded SDK applies it)."""
    if not configured(provider):
        return JsonResponse({"error": f"unknown provider {provider!r}"}, status=404)
    limit = int(conf.get("WEBHOOK_MAX_BYTES"))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "unreadable Content-Length"}, status=400)
    if length > limit:
        return JsonResponse({"error": f"body over {limit} bytes"}, status=413)
    headers: Mapping[str, str] = dict(request.headers)
    try:
        row = deliver(provider, headers, request.body)
    except SignatureError as exc:
        return JsonResponse({"error": "bad signature", "detail": str(exc)}, status=400)
    except MalformedEvent as exc:
        return JsonResponse({"error": "malformed event", "detail": str(exc)}, status=400)
    return JsonResponse({"received": row.event_id, "status": row.status})
