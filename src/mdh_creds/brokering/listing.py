"""What ``status`` shows of the entries a cache holds, tier by tier, with no secret: this
identity's opened and judged, another identity's unopened, an expired one with its time."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mdh_creds.cache.backends import CacheBackend
from mdh_creds.cache.stored import CacheKey
from mdh_creds.clock import Clock
from mdh_creds.errors import CacheError


@dataclass(frozen=True)
class EntryStatus:
    """What ``status`` shows of one cached entry (no secret)."""

    kind: str
    name: str
    expires_at: datetime | None
    state: str
    skew: timedelta | None = None  # server minus local, measured when the entry was fetched
    tier: str = ""


#: Opens one of the broker's own entries in a tier and judges it: its status, or ``None`` when
#: it does not open.
Opener = Callable[[CacheKey, str, CacheBackend], "EntryStatus | None"]


def list_entries(
    cache: CacheBackend, own: Collection[CacheKey], opened: Opener, clock: Clock
) -> Iterator[EntryStatus]:
    """Every entry in each tier of ``cache``; those under the ``own`` keys opened by ``opened``
    (another identity's show as such, unopened)."""
    for tier, backend in cache.tiers():  # a DynamoDB cache: its local copies and the table
        for key in backend.list_keys():
            status = opened(key, tier, backend) if key in own else None
            yield status or _closed_status(key, tier, backend, key in own, clock)


def _closed_status(
    key: CacheKey, tier: str, backend: CacheBackend, own: bool, clock: Clock
) -> EntryStatus:
    """An entry that did not open: another identity's, past its stored expiry (which the
    backends' ``load`` treats as absent), or unreadable."""
    if not own:
        return EntryStatus(key.kind, key.name, None, "other identity", tier=tier)
    try:
        expires = backend.expiry(key)
    except CacheError:
        expires = None
    if expires is None or clock().timestamp() < expires:
        return EntryStatus(key.kind, key.name, None, "unreadable", tier=tier)
    expired_at = datetime.fromtimestamp(expires, timezone.utc)
    return EntryStatus(key.kind, key.name, expired_at, "expired", tier=tier)
