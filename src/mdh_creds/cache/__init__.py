"""Caches of sealed entries: the Protocol every backend implements and ``select`` (``backends``),
the backends (``memory``, ``file``, ``keyring``, ``dynamodb`` with ``lease`` and the ``tiered``
local copies), the per-entry ``locks``, the one bounded reader of the cache ``folder``, and what
names and stores an entry (``stored``). Empty on purpose: the cache-hit fast path imports
``stored`` and ``folder`` alone."""
