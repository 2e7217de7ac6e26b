"""Cache backends: one small Protocol, several implementations, chosen by name with ``select``.

Each backend stores opaque sealed bytes (see ``mdh_creds.crypto``) under a ``CacheKey``; it never
sees plaintext. Optional dependencies are imported when a backend is built, and a backend that
cannot run here raises ``CacheUnavailable`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the package stays light
    from contextlib import AbstractContextManager
    from datetime import datetime
    from pathlib import Path

    from mdh_creds.clock import Clock
    from mdh_creds.models import CacheKey


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

    def lock(self, key: CacheKey, timeout: float) -> AbstractContextManager[None]:
        """Exclusive single-flight lock for ``key`` across processes (and machines for DynamoDB).

        Raises ``LockTimeout`` when not acquired within ``timeout`` seconds. A holder that dies
        loses the lock (the OS releases a file lock; a DynamoDB lease expires).
        """
        ...


BACKEND_NAMES = ("memory", "file", "keyring", "dynamodb")


def select(
    name: str,
    *,
    folder: Path,
    clock: Clock | None = None,
    dynamodb_client_factory: Callable[[], Any] | None = None,
    table: str = "mdh-creds-cache",
    lease_seconds: float = 60.0,
) -> CacheBackend:
    """Build the backend called ``name``; ``CacheUnavailable`` if it is unknown or cannot run here.

    ``folder`` holds the file entries, the keyring index and pin, and the lock files. The
    DynamoDB client is built by ``dynamodb_client_factory`` only when that backend is chosen, and
    the table is probed with one read so a missing or unreachable table fails here.
    """
    from mdh_creds.errors import CacheUnavailable

    if clock is None:
        from mdh_creds.clock import utc_now

        clock = utc_now
    if name == "memory":
        from mdh_creds.cache.memory import MemoryCache

        return MemoryCache(clock)
    if name == "file":
        from mdh_creds.cache.file import FileCache

        return FileCache(folder, clock)
    if name == "keyring":
        from mdh_creds.cache.keyring import KeyringCache

        return KeyringCache(folder, clock)
    if name == "dynamodb":
        return _dynamodb(dynamodb_client_factory, table, clock, lease_seconds)
    choices = ", ".join(BACKEND_NAMES)
    raise CacheUnavailable(f"unknown cache backend {name!r}: set mdh_cache to one of {choices}")


def _dynamodb(
    factory: Callable[[], Any] | None, table: str, clock: Clock, lease_seconds: float
) -> CacheBackend:
    from mdh_creds.cache.dynamodb import DynamoDBCache, unavailable
    from mdh_creds.errors import CacheUnavailable

    if factory is None:
        raise CacheUnavailable("the dynamodb cache needs AWS settings to build a client")
    try:
        client = factory()
    except ImportError as exc:
        raise CacheUnavailable(f"boto3 cannot be imported for the dynamodb cache ({exc})") from exc
    except Exception as exc:
        from botocore.exceptions import BotoCoreError

        if isinstance(exc, BotoCoreError):
            raise unavailable(table, exc) from exc
        raise
    backend = DynamoDBCache(client, table, clock, lease_seconds=lease_seconds)
    backend.probe()
    return backend
