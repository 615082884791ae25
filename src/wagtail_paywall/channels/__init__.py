"""The side channels, each showing a visitor only what they may read of a page.

- :mod:`.visibility`: what they share (the decision for a page, its visible part and text);
- :mod:`.api`: Wagtail API v2's pages endpoint (Wagtail's own one served through it);
- :mod:`.search`: site search (the index itself holds only what anyone may read of a gated
  page: :mod:`wagtail_paywall.pages`);
- :mod:`.feeds`: public and members' private RSS and Atom feeds;
- :mod:`.seo`: meta description, OpenGraph and JSON-LD.

See ``docs/channels.md``.
"""
