"""Settings of ``tests/multiprocess/test_parallel_reads.py``: the servers of
:mod:`tests.multiprocess.settings`, with the test site's paywalled document model, on the
database ``DATABASE_URL`` names (PostgreSQL, or an SQLite file)."""

from __future__ import annotations

from tests.multiprocess.settings import *  # noqa: F403

WAGTAILDOCS_DOCUMENT_MODEL = "testapp.PaywalledDocument"

# A failing request's traceback goes to the server's log, which the test shows.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
