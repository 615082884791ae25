"""The paywall's Wagtail admin: :mod:`.viewsets` (one "Paywall" menu), :mod:`.views`
(members, inbox retries, the metrics report) and :mod:`.report_panel` (the home page's
membership panel).
Registered in :mod:`wagtail_paywall.wagtail_hooks`. See ``docs/publisher-guide.md``.
"""
