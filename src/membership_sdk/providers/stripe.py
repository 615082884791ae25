"""The ``stripe``' payment provider (being written)."""
