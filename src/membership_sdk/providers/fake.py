"""The ``fake``' payment provider (being written)."""
