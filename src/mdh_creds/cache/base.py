"""What the broker needs from a cache: the ``CacheBackend`` Protocol, which every backend
subclasses for the defaults of its optional hooks (imported from ``cache.backends`` too).

Each backend stores opaque sealed bytes (see ``mdh_creds.crypto``) under a ``CacheKey``; it never
sees plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the package stays light
    from contextlib import AbstractContextManager
    from datetime import datetime

    from mdh_creds.cache.stored import CacheKey


class CacheBackend(Protocol):
    """What the broker needs from a cache."""

    name: str

    def describe(self) -> str:
        """Where the entries live, for ``status`` and messages (no secret)."""
        ...

    def load(self, key: CacheKey) -> bytes | None:
        """The sealed entry, or ``None`` when absent. A broken backend raises ``CacheError``."""
        ...

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        """Store atomically: a reader sees the old entry or the new one, never a mix."""
        ...

    def delete(self, key: CacheKey) -> None:
        """Remove the entry if present."""
        ...

    def list_keys(self) -> Iterator[CacheKey]:
        """Every entry this backend holds (for ``status`` and ``clear --all``)."""
        ...

    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> AbstractContextManager[None]:
        """Exclusive single-flight lock for ``key`` across processes (and machines for DynamoDB).

        Raises ``LockTimeout`` when not acquired within ``timeout`` seconds. A holder that dies
        loses the lock (the OS releases a file lock; a DynamoDB lease expires).

        ``ready`` is the caller's "is a fresh entry stored now?". A backend whose waiting costs
        requests (DynamoDB) may call it while it waits and enter the block WITHOUT the lock as
        soon as it is true; the caller then serves what ``ready`` found. Local backends ignore it.
        """
        ...

    def expiry(self, key: CacheKey) -> float | None:
        """When the stored entry expires (local epoch seconds), even past it, for ``status``;
        ``None`` when absent or not known (the default)."""
        return None

    def check(self, key: CacheKey, sealed_expiry: float | None) -> None:
        """What the broker found inside the entry it last loaded (its expiry; ``None``: it did
        not open). A shared table judges the item it holds (``DynamoDBCache.check``); by
        default nothing is done."""
        return

    def tiers(self) -> list[tuple[str, CacheBackend]]:
        """Each tier with its label, for ``status``: by default the backend alone, under its
        name (a DynamoDB cache with local copies has two)."""
        return [(self.name, self)]
