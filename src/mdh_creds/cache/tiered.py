"""A DynamoDB profile's two tiers: a sealed local copy of each entry, read first, in front of the
shared table.

The local copies are file-cache entries (``cache.file``, the same format) in
``<cache folder>/dynamodb``, so the cache-hit fast path serves them with no boto3 and no request.
The table client is built on first need: a warm hit never imports boto3.

What the broker asks for and what each tier does:

* ``load``: the local copy while it has not expired; else the table's entry, copied locally.
  Inside ``lock`` (and while its waiter polls) only the table is read: the broker's second look
  and its "is it fresh yet?" must see what the fleet sees, not this machine's stale copy.
* ``lock``: when the broker's first look was a local copy (found stale), one read of the table
  first: another machine has usually refreshed it already. Else the table's lease.
* ``save``: the table (written only if it holds nothing newer), then the local copy of whatever
  the table keeps.
* ``delete`` and ``list_keys``: both tiers.

A local folder that cannot be used costs the local tier only (logged at debug): the table still
serves, as on AWS Lambda without a writable ``mdh_cache_dir``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

from mdh_creds.cache.base import CacheBackend
from mdh_creds.cache.stored import CacheKey
from mdh_creds.errors import CacheUnavailable

if TYPE_CHECKING:
    from mdh_creds.cache.dynamodb import DynamoDBCache
    from mdh_creds.cache.file import FileCache

_log = logging.getLogger(__name__)
T = TypeVar("T")


class _Marks(threading.local):
    """Per thread: entries being read from the table only, and entries last served locally."""

    def __init__(self) -> None:
        self.table_only: set[CacheKey] = set()
        self.served_locally: set[CacheKey] = set()


class TieredCache(CacheBackend):
    """Local sealed copies in front of a DynamoDB table (built on first need)."""

    name = "dynamodb"

    def __init__(self, local: FileCache | None, table: Callable[[], DynamoDBCache]) -> None:
        self._local = local
        self._build_table = table
        self._table: DynamoDBCache | None = None
        self._guard = threading.Lock()
        self._marks = _Marks()

    def __repr__(self) -> str:
        return f"TieredCache(local={self._local!r})"

    @property
    def table(self) -> DynamoDBCache:
        """The table's backend, built (client and all) the first time it is needed."""
        with self._guard:
            if self._table is None:
                self._table = self._build_table()
            return self._table

    @property
    def local(self) -> FileCache | None:
        return self._local

    def describe(self) -> str:
        where = f"; local copies in {self._local.folder}" if self._local else "; no local copies"
        return self.table.describe() + where

    def tiers(self) -> list[tuple[str, CacheBackend]]:
        """Each tier with its label, for ``status``."""
        tiers: list[tuple[str, CacheBackend]] = []
        if self._local is not None:
            tiers.append(("local", self._local))
        return [*tiers, ("dynamodb", self.table)]

    def load(self, key: CacheKey) -> bytes | None:
        marks = self._marks
        marks.served_locally.discard(key)
        if key not in marks.table_only:
            sealed = self._local_call(lambda local: local.load(key))
            if sealed is not None:
                marks.served_locally.add(key)
                return sealed
        found = self.table.load_item(key)
        if found is None:
            return None
        self._copy(key, *found)
        return found[0]

    def check(self, key: CacheKey, sealed_expiry: float | None) -> None:
        """What the broker found inside the entry last loaded (``DynamoDBCache.check``); a
        local copy is this machine's own: only the table's items are judged."""
        if key not in self._marks.served_locally:
            self.table.check(key, sealed_expiry)

    @property
    def repaired(self) -> int:
        """Unsound items of the table this process replaced (``cache.repairs``)."""
        return self._table.repaired if self._table is not None else 0

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        kept = self.table.store(key, sealed, expires_at)
        if kept is None:
            self._local_call(lambda local: local.save(key, sealed, expires_at))
        else:
            self._copy(key, *kept)

    def delete(self, key: CacheKey) -> None:
        self.table.delete(key)
        self._local_call(lambda local: local.delete(key))

    def list_keys(self) -> Iterator[CacheKey]:
        remote = list(self.table.list_keys())
        local = self._local_call(lambda tier: list(tier.list_keys())) or []
        return iter(remote + [key for key in local if key not in remote])

    @contextmanager
    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        marks = self._marks
        marks.table_only.add(key)
        try:
            if ready is not None and key in marks.served_locally and ready():
                yield  # another machine refreshed the table: nothing to do
                return
            with self.table.lock(key, timeout, ready):
                yield
        finally:
            marks.table_only.discard(key)

    def _copy(self, key: CacheKey, sealed: bytes, expires: float) -> None:
        """Keep ``sealed`` as the local copy, unless it already is."""

        def copy(local: FileCache) -> None:
            if local.load(key) != sealed:
                local.save(key, sealed, datetime.fromtimestamp(expires, timezone.utc))

        self._local_call(copy)

    def _local_call(self, call: Callable[[FileCache], T]) -> T | None:
        """Run ``call`` on the local tier; a failure there drops the local tier, nothing more."""
        if self._local is None:
            return None
        try:
            return call(self._local)
        except CacheUnavailable as exc:
            _log.debug("local copies disabled: %s", exc)
            self._local = None
            return None
