"""Wagtail API v2 with the paywall: :class:`PaywalledPagesAPIViewSet`.

Every page it serialises first goes through
:func:`~wagtail_paywall.channels.visibility.visible_page` (teaser blocks only, premium
fields emptied) and carries its decision in ``meta.paywall``. A detail read spends a metered
read, a listing never does; ``search`` matches a locked page on its visible text only
(:mod:`wagtail_paywall.channels.search`). Responses with a gated page are ``private``.
Filtering or ordering by a withheld field is refused, and bad input (an unknown
``search_operator``, an unbalanced quote, a filter value its field cannot hold) answers 400.

Wagtail's own ``PagesAPIViewSet``, routed as Wagtail's docs show it, is served through
:class:`PaywalledPagesAPIViewSet` by ``PaywallMiddleware`` (:func:`paywalled_stock_view`);
an endpoint that cannot be swapped safely (a site's own subclass, a decorated view) stops
the site with system check ``wagtail_paywall.E009``.

See ``docs/channels.md`` (Wagtail API v2).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from wagtail.api.v2.filters import FieldsFilter, OrderingFilter, SearchFilter
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.serializers import PageSerializer
from wagtail.api.v2.utils import BadRequestError
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.search.backends import get_search_backend
from wagtail.search.backends.base import FilterFieldError, OrderByFieldError

from ..pages import PaywallPageMixin
from .search import SearchHits, SearchQueryError, clean_operator, clean_query, visible_hits
from .visibility import decision_json, mark_if_gated, visible_page


class PaywalledPageSerializer(PageSerializer):
    """A page as the visitor may see it, with ``meta.paywall`` for the decision."""

    def to_representation(self, instance: Any) -> Any:
        # The Django request under DRF's: the middleware reads what the gate marks on it.
        request = getattr(self.context["request"], "_request", self.context["request"])
        view = self.context.get("view")
        # Only the one page a detail view shows counts as a read of it.
        spend = getattr(view, "action", None) == "detail_view" and str(instance.pk) == str(
            getattr(view, "kwargs", {}).get("pk")
        )
        # A specific page is withheld in place. A generic Page of a listing is decided
        # through its specific copy, and carries only the Page's own fields (title,
        # slug, search description), none of which the paywall withholds.
        _, decision = visible_page(instance, request, spend=spend)
        data = super().to_representation(instance)
        if isinstance(data.get("meta"), dict):
            data["meta"]["paywall"] = decision_json(decision)
        return data


def withheld_fields(model: type) -> frozenset[str]:
    """The fields of ``model`` the paywall withholds from visitors without access."""
    if not issubclass(model, PaywallPageMixin):
        return frozenset()
    return frozenset((*model.paywall_body_fields, *model.paywall_premium_fields))


class PaywallFieldsFilter(FieldsFilter):
    """Wagtail's field filters (``?slug=...``), refusing what would answer 500 or tell
    a withheld field's value: a filter on a body or premium field, and a value the field
    cannot hold (``?first_published_at=x``), are a 400 naming the field."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        model = queryset.model
        fields = set(view.get_available_fields(model, db_fields_only=True))
        withheld = withheld_fields(model)
        for name, value in request.GET.items():
            if name not in fields:
                continue
            if name in withheld:
                raise BadRequestError(
                    f"cannot filter by '{name}' (the paywall withholds it from visitors "
                    "without access)"
                )
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if field.is_relation or "\x00" in value:
                continue  # Wagtail's own checks answer these
            try:
                field.to_python(value)
            except ValidationError as exc:
                raise BadRequestError(
                    f"field filter error. {value!r} is not a valid value for {name} "
                    f"({' '.join(exc.messages)})"
                ) from exc
        try:
            return super().filter_queryset(request, queryset, view)
        except ValidationError as exc:  # a value only the database's lookup refuses
            raise BadRequestError(f"field filter error. {' '.join(exc.messages)}") from exc


class PaywallOrderingFilter(OrderingFilter):
    """Wagtail's ``?order=``, refusing to sort by a withheld field (the order would
    tell its values)."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        withheld = withheld_fields(queryset.model)
        for name in request.GET.get("order", "").split(","):
            if name.lstrip("-") in withheld:
                raise BadRequestError(
                    f"cannot order by '{name}' (the paywall withholds it from visitors "
                    "without access)"
                )
        return super().filter_queryset(request, queryset, view)


class PaywallSearchFilter(SearchFilter):
    """Wagtail's ``?search=`` that never reveals a match in text the visitor may not read.

    The backend is asked for the query's words only; an unbalanced double quote or a
    ``search_operator`` other than "and" and "or" answers 400.
    """

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        if "search" not in request.GET:
            return queryset
        if not getattr(settings, "WAGTAILAPI_SEARCH_ENABLED", True):
            raise BadRequestError("search is disabled")
        if getattr(queryset, "_filtered_by_tag", False):
            raise BadRequestError("filtering by tag with a search query is not supported")
        try:
            operator = clean_operator(request.GET.get("search_operator"))
            words = clean_query(request.GET["search"], "search")
        except SearchQueryError as exc:
            raise BadRequestError(str(exc)) from exc
        if not words:
            return SearchHits()
        try:
            results = get_search_backend().search(
                words, queryset, operator=operator, order_by_relevance="order" not in request.GET
            )
        except FilterFieldError as exc:
            raise BadRequestError(
                f"cannot filter by '{exc.field_name}' while searching (field is not indexed)"
            ) from exc
        except OrderByFieldError as exc:
            raise BadRequestError(
                f"cannot order by '{exc.field_name}' while searching (field is not indexed)"
            ) from exc
        django_request = getattr(request, "_request", request)
        hits = visible_hits(django_request, results, words, operator=operator)
        return SearchHits(hit.page for hit in hits)


_PAYWALL_FILTERS: dict[type, type] = {
    FieldsFilter: PaywallFieldsFilter,
    OrderingFilter: PaywallOrderingFilter,
    SearchFilter: PaywallSearchFilter,
}


class PaywalledPagesAPIViewSet(PagesAPIViewSet):
    """Wagtail's pages endpoint, each page gated by the paywall's one decision."""

    base_serializer_class = PaywalledPageSerializer
    filter_backends = [_PAYWALL_FILTERS.get(b, b) for b in PagesAPIViewSet.filter_backends]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # PostgreSQL refuses a NUL in a string (a 500 wherever Wagtail passes one on).
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise BadRequestError(f"{name!r} holds a null character")

    def finalize_response(
        self, request: Any, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # The DRF request wraps the Django one, which the channels marked.
        mark_if_gated(getattr(request, "_request", request), response)
        return response


# -- Wagtail's stock pages endpoint, served through the paywall --------------------------------
View = Callable[..., Any]


def _codes(view: Any) -> tuple[Any, ...]:
    """The code objects of ``view`` and of each function it wraps (``__wrapped__``)."""
    codes = []
    while view is not None:
        codes.append(getattr(view, "__code__", None))
        view = getattr(view, "__wrapped__", None)
    return tuple(codes)


@functools.cache
def _stock_shapes() -> frozenset[tuple[Any, ...]]:
    """How Wagtail routes its stock endpoint: the view ``as_view`` makes, alone or
    wrapped by a ``WagtailAPIRouter``. Anything else around it (a decorator) is unknown."""
    plain = PagesAPIViewSet.as_view({"get": "listing_view"})
    routed = WagtailAPIRouter("paywall-shape").wrap_view(plain)
    return frozenset({_codes(plain), _codes(routed)})


_ROUTER_CODE = _codes(WagtailAPIRouter("paywall-shape").wrap_view(lambda request: None))[0]


def is_stock_pages_view(view: Any) -> bool:
    """Whether ``view`` is Wagtail's own ``PagesAPIViewSet`` exactly as Wagtail routes it,
    which :func:`paywalled_stock_view` can serve in its place."""
    return getattr(view, "cls", None) is PagesAPIViewSet and _codes(view) in _stock_shapes()


def paywalled_stock_view(view: Any) -> View | None:
    """The view serving Wagtail's stock ``PagesAPIViewSet`` route ``view`` through
    :class:`PaywalledPagesAPIViewSet` (same actions, options and router), or ``None``
    if ``view`` is no such route. ``PaywallMiddleware`` serves it in ``process_view``."""
    if not is_stock_pages_view(view):
        return None
    return _paywalled(view)


@functools.lru_cache(maxsize=256)
def _paywalled(view: Any) -> View:
    paywalled: View = PaywalledPagesAPIViewSet.as_view(view.actions, **view.initkwargs)
    if getattr(view, "__code__", None) is _ROUTER_CODE:
        # The router sets request.wagtailapi_router, which the serializer's URLs need.
        router = inspect.getclosurevars(view).nonlocals.get("self")
        if isinstance(router, WagtailAPIRouter):
            paywalled = router.wrap_view(paywalled)
    return paywalled
