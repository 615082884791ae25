"""Site search that shows each visitor only what they may read.

Premium text never reaches the search index (:class:`~wagtail_paywall.pages.PaywallPageMixin`
indexes a gated page as a visitor without access receives it), so no backend can match or
rank a gated page on it. On top of that, :func:`search_pages` keeps a page the visitor may
not read only when the query matches its visible text
(:func:`~wagtail_paywall.channels.visibility.visible_text`), and snippets come from that
text alone. Use it in a site's own search view, or link to the ``paywall:search`` view; the
API's ``?search=`` goes through the same filter.

A query is asked of the backend as its words only, so no backend's query syntax (a stray
quote breaks SQLite's full-text search) turns a visitor's typing into a server error; an
unbalanced double quote, an unknown operator or an overlong query is refused with
:class:`SearchQueryError` (a 400 in the views).

See ``docs/channels.md`` (Site search).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from wagtail.models import Page
from wagtail.search.backends import get_search_backend

from membership_sdk import Decision

from .visibility import mark_if_gated, visible_page, visible_text

_WORD = re.compile(r"\w+", re.UNICODE)
#: The operators a search accepts (``search_operator`` in the API).
OPERATORS = ("and", "or")
#: A longer query is refused: backends build nested expressions of its words, and a few
#: hundred of them overflow Python's recursion limit (a 500 on PostgreSQL).
MAX_QUERY_WORDS = 64
SNIPPET_WORDS = 30
#: Each result the visitor may not read is checked against its visible text, so a search
#: looks at no more than this many of the backend's best results.
MAX_RESULTS = 500


@dataclass(frozen=True)
class SearchHit:
    """A page found for a visitor: the page (withheld as they may see it), their
    decision (``None``: the paywall leaves it open) and a snippet of visible text."""

    page: Any
    decision: Decision | None
    snippet: str


class SearchHits(list):  # type: ignore[type-arg]
    """A list the API's paginator can count like a queryset."""

    def count(self, *args: Any) -> int:  # type: ignore[override]
        if args:
            return super().count(*args)
        return len(self)


class SearchQueryError(ValueError):
    """A search refused as bad input: :attr:`parameter` names the query parameter."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter} {problem}")
        self.parameter = parameter
        self.problem = problem


def clean_operator(operator: str | None, parameter: str = "search_operator") -> str | None:
    """``operator`` as a backend takes it (``None`` for its default), or
    :class:`SearchQueryError` if it is neither "and" nor "or"."""
    if operator is None or operator == "":
        return None
    if operator.lower() not in OPERATORS:
        raise SearchQueryError(parameter, f"must be 'and' or 'or', not {operator!r}")
    return operator.lower()


def clean_query(query: str, parameter: str = "q") -> str:
    """The words of ``query``, as they are asked of the backend (``""`` if there are
    none), or :class:`SearchQueryError` for an unbalanced double quote, a null character
    or more than :data:`MAX_QUERY_WORDS` words. A site's own search view may use it too
    (``docs/existing-site.md``, Search)."""
    if query.count('"') % 2:
        raise SearchQueryError(parameter, "has an unbalanced double quote")
    if "\x00" in query:
        raise SearchQueryError(parameter, "holds a null character")
    words = _WORD.findall(query)
    if len(words) > MAX_QUERY_WORDS:
        raise SearchQueryError(parameter, f"has more than {MAX_QUERY_WORDS} words")
    return " ".join(words)


def terms(query: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(query)]


def matches(text: str, query_terms: list[str], operator: str | None = None) -> bool:
    """Whether ``text`` alone answers the query: every term (``or``: any term) starts
    a word of it. Stricter than a stemming backend, never looser."""
    if not query_terms:
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    found = [any(w.startswith(t) for w in words) for t in query_terms]
    return any(found) if (operator or "").lower() == "or" else all(found)


def snippet(text: str, query_terms: list[str], size: int = SNIPPET_WORDS) -> str:
    """About ``size`` words of ``text`` around the first term it contains."""
    words = text.split()
    start = 0
    for i, word in enumerate(words):
        if any(word.lower().lstrip("\"'(").startswith(t) for t in query_terms):
            start = max(0, i - size // 3)
            break
    part = " ".join(words[start : start + size])
    return ("… " if start else "") + part + (" …" if start + size < len(words) else "")


def visible_hits(
    request: HttpRequest, results: Sequence[Any], query: str, *, operator: str | None = None
) -> list[SearchHit]:
    """The backend's ``results`` (at most :data:`MAX_RESULTS` of them) the visitor may
    know about, in the backend's order."""
    query_terms = terms(query)
    hits = []
    for result in results[:MAX_RESULTS]:
        page, decision = visible_page(result, request)
        # One walk of the body per result: the title's words are matched with it.
        body = visible_text(page, decision, title=False)
        locked = decision is not None and not decision.allowed
        if locked and not matches(f"{page.title} {body}", query_terms, operator):
            continue  # the match is in text this visitor may not read
        hits.append(SearchHit(page, decision, snippet(body, query_terms)))
    return hits


def search_pages(
    request: HttpRequest,
    query: str,
    queryset: Any = None,
    *,
    operator: str | None = None,
    backend: str = "default",
) -> list[SearchHit]:
    """Search live, public pages (or ``queryset``) for ``query`` as ``request``'s
    visitor may see them.

    :raises SearchQueryError: an unbalanced double quote in ``query``, or an
        ``operator`` other than "and" and "or".
    """
    operator = clean_operator(operator, "operator")
    words = clean_query(query)
    if queryset is None:
        queryset = Page.objects.live().public()
    if not words:
        return []
    results = get_search_backend(backend).search(words, queryset, operator=operator)
    return visible_hits(request, results, words, operator=operator)


def search_view(request: HttpRequest) -> HttpResponse:
    """``/paywall/search/?q=...``: the site's pages found for the visitor, ten a page.

    A query refused as bad input (:class:`SearchQueryError`) answers 400 with the form
    and what is wrong with it.
    """
    query = request.GET.get("q", "").strip()
    error = None
    try:
        hits = search_pages(request, query) if query else []
    except SearchQueryError as exc:
        hits, error = [], exc
    paginator = Paginator(hits, 10)
    page_obj = paginator.get_page(request.GET.get("page"))
    response = render(
        request,
        "wagtail_paywall/search.html",
        {"query": query, "hits": page_obj.object_list, "page_obj": page_obj, "error": error},
        status=400 if error is not None else 200,
    )
    request.paywall_gated = True  # type: ignore[attr-defined]
    mark_if_gated(request, response)
    return response
