"""pytest plugin shipped with the SDK (registered through the ``pytest11`` entry point)."""
