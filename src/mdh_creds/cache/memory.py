"""The in-process cache: one store of sealed entries per process, shared by every session, broker
and provider of that process, with one ``threading.Lock`` per entry (DESIGN 6).

Nothing outlives the process and other processes see nothing; useful for tests, long-running
services and ``mdh_cache = memory``. A forked child keeps the entries but gets new locks: a lock
held by a thread of the parent would never be released in the child.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from mdh_creds.cache.base import CacheBackend
from mdh_creds.cache.stored import CacheKey
from mdh_creds.clock import Clock, utc_now
from mdh_creds.errors import LockTimeout


class _Store:
    """Entries and their locks."""

    def __init__(self) -> None:
        self.entries: dict[CacheKey, tuple[bytes, datetime]] = {}
        self.reset_locks()

    def reset_locks(self) -> None:
        self.guard = threading.Lock()
        self.locks: dict[CacheKey, threading.Lock] = {}


_PROCESS_STORE = _Store()
if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_PROCESS_STORE.reset_locks)


class MemoryCache(CacheBackend):
    """Sealed entries kept in this process only: the process's one store, or a ``private`` one."""

    name = "memory"

    def __init__(self, clock: Clock = utc_now, *, private: bool = False) -> None:
        self._clock = clock
        self._store = _Store() if private else _PROCESS_STORE

    def __repr__(self) -> str:
        return f"MemoryCache(<{len(self._store.entries)} entries>)"

    def describe(self) -> str:
        return "memory (this process only)"

    def load(self, key: CacheKey) -> bytes | None:
        with self._store.guard:
            found = self._store.entries.get(key)
        if found is None or self._clock() >= found[1]:
            return None
        return found[0]

    def expiry(self, key: CacheKey) -> float | None:
        """The expiry of ``key``'s entry, expired or not (``None`` when absent)."""
        with self._store.guard:
            found = self._store.entries.get(key)
        return None if found is None else found[1].timestamp()

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        with self._store.guard:
            self._store.entries[key] = (bytes(sealed), expires_at)

    def delete(self, key: CacheKey) -> None:
        with self._store.guard:
            self._store.entries.pop(key, None)

    def list_keys(self) -> Iterator[CacheKey]:
        with self._store.guard:
            return iter(list(self._store.entries))

    @contextmanager
    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        del ready  # one process: a waiter simply waits for the lock
        with self._store.guard:
            entry_lock = self._store.locks.setdefault(key, threading.Lock())
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
