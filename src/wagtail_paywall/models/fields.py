"""What the paywall's models share: the member id column and choices built from the core's enums.

Member ids are ``str(user.pk)``: the tables keep them as strings, so a site may swap its
user model (or bill organisations) without a migration of the paywall's tables. See
``docs/wagtail.md`` (Storage and migrations).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MEMBER_ID_LENGTH = 64


def member_id_field(**options: Any) -> models.CharField[str, str]:
    """The column holding a member id (``str(user.pk)``)."""
    return models.CharField(_("member"), max_length=MEMBER_ID_LENGTH, **options)


def choices_of(
    enum: type[StrEnum], labels: Mapping[Any, Promise | str], *, qualname: str
) -> type[models.TextChoices]:
    """Django ``TextChoices`` with one member per member of the core's ``enum``.

    The values are the core's, so the two cannot drift apart; ``labels`` gives each its
    translated label, and a core value without one fails at import, naming it.
    """
    missing = [member.value for member in enum if member not in labels]
    if missing:
        raise LookupError(f"{qualname}: no label for {missing} of {enum.__name__}")
    members = [(member.name, (member.value, labels[member])) for member in enum]
    name = qualname.rpartition(".")[2]
    # Filed under the models package, which exports every model these choices belong to.
    return models.TextChoices(  # type: ignore[return-value]
        name, members, module="wagtail_paywall.models", qualname=qualname
    )


def lines(text: str) -> tuple[str, ...]:
    """The non-blank lines of ``text``, stripped (how entitlements are entered)."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())
