"""The demo's dataset downloads: a usage-based add-on (docs/usage.md).

Premium includes 10 dataset downloads a month; each one beyond costs €0.50, billed with
the member's next payment. ``/datasets/`` lists the datasets and the member's use this
period; downloading one records one unit with :func:`wagtail_paywall.usage.record_usage`,
the one call a site developer makes from their own view.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from wagtail_paywall.usage import NotEntitled, UsageError, record_usage, usage_summaries

METER = "datasets.download"
#: The datasets on offer: slug -> (title, CSV rows).
DATASETS = {
    "members-by-country": (
        gettext_lazy("Members by country, 2026"),
        "country,members\nDE,1204\nNL,877\nPL,512\n",
    ),
    "churn-by-month": (
        gettext_lazy("Churn by month, 2026"),
        "month,churn\n2026-01,2.1%\n2026-02,1.8%\n",
    ),
}


@login_required
@require_http_methods(["GET", "POST"])
def datasets(request: HttpRequest) -> HttpResponse:
    """GET: the list and the member's use; POST ``dataset`` and ``nonce``: one download."""
    error = ""
    if request.method == "POST":
        slug = request.POST.get("dataset", "")
        if slug not in DATASETS:
            return HttpResponse(_("No such dataset."), status=404, content_type="text/plain")
        try:
            # The form's nonce names this download: a double submit is counted once.
            record_usage(request.user, METER, idempotency_key=request.POST.get("nonce", ""))
        except NotEntitled:
            error = _("Dataset downloads come with Premium.")
        except UsageError as exc:
            error = str(exc)
        else:
            _title, rows = DATASETS[slug]
            response = HttpResponse(rows, content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="{slug}.csv"'
            return response
    summary = next((s for s in usage_summaries(request.user) if s.meter == METER), None)
    context = {
        "datasets": [(slug, title) for slug, (title, _rows) in DATASETS.items()],
        "summary": summary,
        "nonce": secrets.token_hex(8),
        "error": error,
    }
    return render(request, "demo/datasets.html", context, status=403 if error else 200)
