"""A second site in CI: a project made by ``wagtail start``, with the paywall installed by
following ``docs/existing-site.md`` to the letter (and downloads gated as ``docs/gating.md``
says), and inside it the leak probes and the leak matrix the test site runs
(:mod:`tests.wagtail.leak_matrix`, with the profile :mod:`tests.stock_site.leak_site`)."""
