"""The broker's cache, sealed: entries opened and parsed on the way out, sealed on the way in. A
backend that breaks at run time is dropped with one warning, and the broker goes on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from mdh_creds.brokering.terms import Entry
from mdh_creds.cache.backends import CacheBackend
from mdh_creds.cache.stored import CacheKey
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheError, LockTimeout
from mdh_creds.models import AccessToken, TemporaryCredentials


class SealedStore:
    """One identity's entries in ``cache`` (``None``: no cache), sealed by ``sealer``; ``log`` is
    the broker's logger, which its warnings go to."""

    def __init__(
        self, cache: CacheBackend | None, sealer: Sealer | None, log: logging.Logger
    ) -> None:
        self.cache, self.sealer, self._log = cache, sealer, log

    @property
    def name(self) -> str:
        """The backend's name, ``none`` without one (for log lines)."""
        return self.cache.name if self.cache is not None else "none"

    def rekey(self, sealer: Sealer) -> None:
        """Seal with ``sealer`` from now on (the account's key rotated), if sealing at all."""
        if self.sealer is not None:
            self.sealer = sealer

    def load(
        self, key: CacheKey, kind: type[Entry], tier: CacheBackend | None = None
    ) -> Entry | None:
        """The entry under ``key`` in the cache (or in one of its ``tier``s), opened and parsed;
        ``None`` when absent, unreadable or the cache broke."""
        cache = tier or self.cache
        if cache is None or self.sealer is None:
            return None
        try:
            sealed = cache.load(key)
        except CacheError as exc:
            self.drop(exc)
            return None
        entry = self._parse(kind, self.sealer.open(key, sealed), key)
        if tier is None and sealed is not None:  # a shared table judges what it holds
            cache.check(key, None if entry is None else entry.local_expires_at.timestamp())
        return entry

    def save(self, key: CacheKey, entry: AccessToken | TemporaryCredentials) -> None:
        if self.cache is None or self.sealer is None:
            return
        try:
            # Backends judge expiry by the local clock; the entry's times are the server's.
            sealed = self.sealer.seal(key, entry.to_payload())
            self.cache.save(key, sealed, entry.local_expires_at)
        except CacheError as exc:
            self.drop(exc)

    @contextmanager
    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None
    ) -> Iterator[None]:
        """Hold the entry's lock (a backend may let a waiter in early once ``ready`` says a fresh
        entry is stored); a lock that cannot be taken at all (an unusable lock folder, a
        throttled lease) drops the cache with one warning, as any broken backend does. A
        timeout is raised."""
        held = ExitStack()
        if self.cache is not None:
            try:
                held.enter_context(self.cache.lock(key, timeout, ready))
            except LockTimeout:
                raise
            except CacheError as exc:
                self.drop(exc)
        with held:
            yield

    def drop(self, exc: CacheError) -> None:
        self._log.warning("cache unavailable, continuing without it: %s", exc)
        self.cache = None

    def delete(self, keys: list[CacheKey]) -> int:
        """Remove the entries under ``keys``; the number there was."""
        removed = 0
        for key in keys:
            if self.cache is not None and self.cache.load(key) is not None:
                removed += 1
            if self.cache is not None:
                self.cache.delete(key)
        return removed

    def every_key(self) -> list[CacheKey]:
        """Every entry the cache holds, of every identity."""
        return [] if self.cache is None else list(self.cache.list_keys())

    def _parse(
        self, kind: type[Entry], payload: dict[str, Any] | None, key: CacheKey
    ) -> Entry | None:
        if payload is None:
            return None
        try:
            return kind.from_payload(payload)
        except (KeyError, ValueError, TypeError):
            self._log.debug("cache entry %s does not parse, treated as a miss", key.name)
            return None
