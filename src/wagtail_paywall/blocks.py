"""The paywall break: a StreamField block that marks where the teaser ends.

Everything above the first :class:`PaywallBreakBlock` in a stream is the teaser; the
rest is premium and is cut off on the server (:func:`teaser_part`) for a visitor
without access. For a visitor with access the break renders nothing. See
``docs/gating.md`` (The paywall break block).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.stream_block import StreamValue


class PaywallBreakBlock(blocks.StaticBlock):
    """Where the free teaser of a stream ends and the premium part begins."""

    class Meta:
        icon = "lock"
        label = _("Paywall break")
        admin_text = _(
            "Visitors without access see the blocks above this line, then the offers "
            "that unlock the rest."
        )

    def render_basic(self, value: Any, context: Any = None) -> str:
        return ""


def break_index(value: StreamValue) -> int | None:
    """The position of the first paywall break in ``value``, or ``None`` without one.

    Reads the raw stream only: the premium blocks are never converted or rendered.
    """
    breaks = {
        name
        for name, block in value.stream_block.child_blocks.items()
        if isinstance(block, PaywallBreakBlock)
    }
    if not breaks:
        return None
    raw = value.raw_data
    for i in range(len(raw)):
        if raw[i]["type"] in breaks:
            return i
    return None


def split_at_break(value: StreamValue) -> tuple[StreamValue, StreamValue]:
    """``(teaser, premium)``: the blocks before the first break and those after it.

    Without a break the whole stream is premium and the teaser is empty.
    """
    at = break_index(value)
    raw = [value.raw_data[i] for i in range(len(value.raw_data))]
    if at is None:
        return StreamValue(value.stream_block, [], is_lazy=True), value
    return (
        StreamValue(value.stream_block, raw[:at], is_lazy=True),
        StreamValue(value.stream_block, raw[at + 1 :], is_lazy=True),
    )


def teaser_part(value: Any, *, keep: bool = True) -> Any:
    """What a visitor without access may receive of a field's ``value``.

    A stream keeps only the blocks before its paywall break (none if it has no break,
    or when ``keep`` is false); any other value is withheld whole (``""``).
    """
    if isinstance(value, StreamValue):
        if not keep:
            return StreamValue(value.stream_block, [], is_lazy=True)
        return split_at_break(value)[0]
    return ""
