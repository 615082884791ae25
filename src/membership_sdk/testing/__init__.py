"""Test tooling for provider authors: the provider contract suite (see :mod:`.plugin`)."""
