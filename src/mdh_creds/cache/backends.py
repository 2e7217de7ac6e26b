"""Cache backends: one small Protocol (``cache.base``), several implementations, chosen by name
with ``select``.

Each backend stores opaque sealed bytes (see ``mdh_creds.crypto``) under a ``CacheKey``; it never
sees plaintext. Optional dependencies are imported when a backend is built, and a backend that
cannot run here raises ``CacheUnavailable`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mdh_creds.cache.base import CacheBackend

if TYPE_CHECKING:  # the package stays light
    from pathlib import Path

    from mdh_creds.cache.dynamodb import DynamoDBCache
    from mdh_creds.clock import Clock

__all__ = ["BACKEND_NAMES", "CacheBackend", "select"]


BACKEND_NAMES = ("auto", "memory", "file", "keyring", "dynamodb")


def select(
    name: str,
    *,
    folder: Path,
    clock: Clock | None = None,
    dynamodb_client_factory: Callable[[], Any] | None = None,
    table: str = "mdh-creds-cache",
    lease_seconds: float = 10.0,
    local_copies: bool = True,
    environ: Mapping[str, str] | None = None,
) -> CacheBackend:
    """Build the backend called ``name``; ``CacheUnavailable`` if it is unknown or cannot run here.

    ``folder`` holds the file entries, the keyring index and pin, the lock files, and the local
    copies of DynamoDB entries; ``environ`` (default ``os.environ``) may name the keyring class
    (``cache.choice``). The DynamoDB client is built by ``dynamodb_client_factory`` only when
    that backend is chosen. With ``local_copies`` (the default) it is a ``TieredCache`` that
    builds the client on first need, and a missing or unreachable table fails at its first
    request; without, the table is probed now with one read.
    """
    from mdh_creds.errors import CacheUnavailable

    if clock is None:
        from mdh_creds.clock import utc_now

        clock = utc_now
    if name == "auto":
        return _auto(folder, clock, environ)
    if name == "memory":
        from mdh_creds.cache.memory import MemoryCache

        return MemoryCache(clock)
    if name == "file":
        from mdh_creds.cache.file import FileCache

        return FileCache(folder, clock)
    if name == "keyring":
        from mdh_creds.cache.keyring import KeyringCache

        return KeyringCache(folder, clock, environ)
    if name == "dynamodb":
        build = _dynamodb(dynamodb_client_factory, table, clock, lease_seconds)
        return _tiered(folder, clock, build) if local_copies else _probed(build)
    choices = ", ".join(BACKEND_NAMES)
    raise CacheUnavailable(f"unknown cache backend {name!r}: set mdh_cache to one of {choices}")


def _dynamodb(
    factory: Callable[[], Any] | None, table: str, clock: Clock, lease_seconds: float
) -> Callable[[], DynamoDBCache]:
    """What builds the table's backend (its client included) when called."""
    from mdh_creds.errors import CacheUnavailable

    if factory is None:
        raise CacheUnavailable("the dynamodb cache needs AWS settings to build a client")

    def build() -> DynamoDBCache:
        from mdh_creds.cache.dynamodb import DynamoDBCache, unavailable

        try:
            client = factory()
        except ImportError as exc:
            message = f"boto3 cannot be imported for the dynamodb cache ({exc})"
            raise CacheUnavailable(message) from exc
        except Exception as exc:
            from botocore.exceptions import BotoCoreError

            if isinstance(exc, BotoCoreError):
                raise unavailable(table, exc) from exc
            raise
        return DynamoDBCache(client, table, clock, lease_seconds=lease_seconds)

    return build


def _probed(build: Callable[[], DynamoDBCache]) -> CacheBackend:
    backend = build()
    backend.probe()
    return backend


def _auto(folder: Path, clock: Clock, environ: Mapping[str, str] | None) -> CacheBackend:
    """``auto``: the OS keyring where a real one answers, else the file cache, remembered in the
    folder for a day so the next run skips the keyring's probe (``cache.choice``)."""
    import logging

    from mdh_creds.cache.choice import remember_file_cache, remembers_file_cache
    from mdh_creds.cache.file import FileCache
    from mdh_creds.cache.keyring import KeyringCache
    from mdh_creds.errors import CacheUnavailable

    if not remembers_file_cache(str(folder)):
        try:
            return KeyringCache(folder, clock, environ)
        except CacheUnavailable as exc:
            logging.getLogger(__name__).debug("no usable keyring (%s); the file cache", exc)
            remember_file_cache(folder)
    return FileCache(folder, clock)


def _tiered(folder: Path, clock: Clock, build: Callable[[], DynamoDBCache]) -> CacheBackend:
    """Local copies in ``<folder>/dynamodb`` (none if that folder is unusable) before the table."""
    from mdh_creds.cache.file import FileCache
    from mdh_creds.cache.folder import prepare_folder
    from mdh_creds.cache.stored import DYNAMODB_LOCAL_FOLDER
    from mdh_creds.cache.tiered import TieredCache
    from mdh_creds.errors import CacheUnavailable

    try:
        prepare_folder(folder)
        local: FileCache | None = FileCache(folder / DYNAMODB_LOCAL_FOLDER, clock)
    except (OSError, CacheUnavailable) as exc:
        import logging

        logging.getLogger(__name__).debug("no local copies of the DynamoDB entries: %s", exc)
        local = None
    return TieredCache(local, build)
