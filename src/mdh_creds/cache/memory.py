"""An in-process cache: a dict of sealed entries and one ``threading.Lock`` per entry.

Nothing outlives the process and other processes see nothing; useful for tests, long-running
services and ``mdh_cache = memory``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from mdh_creds.clock import Clock, utc_now
from mdh_creds.errors import LockTimeout
from mdh_creds.models import CacheKey


class MemoryCache:
    """Sealed entries kept in this process only."""

    name = "memory"

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._entries: dict[CacheKey, tuple[bytes, datetime]] = {}
        self._guard = threading.Lock()
        self._locks: dict[CacheKey, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"MemoryCache(<{len(self._entries)} entries>)"

    def describe(self) -> str:
        return "memory (this process only)"

    def load(self, key: CacheKey) -> bytes | None:
        with self._guard:
            found = self._entries.get(key)
        if found is None or self._clock() >= found[1]:
            return None
        return found[0]

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        with self._guard:
            self._entries[key] = (bytes(sealed), expires_at)

    def delete(self, key: CacheKey) -> None:
        with self._guard:
            self._entries.pop(key, None)

    def list_keys(self) -> Iterator[CacheKey]:
        with self._guard:
            return iter(list(self._entries))

    @contextmanager
    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        with self._guard:
            entry_lock = self._locks.setdefault(key, threading.Lock())
        acquired = entry_lock.acquire(timeout=timeout) if timeout > 0 else entry_lock.acquire(False)
        if not acquired:
            raise LockTimeout(
                f"in-process lock for cache entry {key.name} not acquired within {timeout:g}s: "
                "another thread of this process holds it; retry"
            )
        try:
            yield
        finally:
            entry_lock.release()
