"""The side channels, each showing a visitor only what they may read of a page.

- :mod:`.visibility`: what they share (the decision for a page, its visible part and text);
- :mod:`.api`: Wagtail API v2's pages endpoint;
- :mod:`.search`: site search;
- :mod:`.feeds`: public and members' private RSS and Atom feeds;
- :mod:`.seo`: meta description, OpenGraph and JSON-LD.

See ``docs/channels.md``.
"""
