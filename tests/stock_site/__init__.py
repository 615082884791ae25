"""A second site in CI: a project made by ``wagtail start``, with the paywall installed by
following ``docs/existing-site.md`` to the letter, and the leak probes run inside it."""
