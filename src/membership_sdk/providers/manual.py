"""The ``manual``' payment provider (being written)."""
