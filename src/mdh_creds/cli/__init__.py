"""The ``mdh-creds`` command line: the console script (``console``) serves a fresh cache hit
through ``fastpath`` and otherwise runs the full command (``main``), whose commands live one per
file in ``commands``. Empty on purpose: the fast path must not load the full command."""
