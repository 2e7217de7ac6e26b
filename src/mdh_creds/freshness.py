"""Fresh, stale or expired: the three states of a cached entry, and the one place a server time
becomes a local one (the clock-skew rule, DESIGN 5 and 6).

An entry holds its expiry and issue time on MDH's clock and the skew measured from MDH's ``Date``
(server minus local). The skew may only make an entry look older, never younger: it is applied
when MDH's clock is ahead (at most until the entry looks expired) and ignored when it is behind,
when the ``Expiration`` is taken at face value on the local clock. A wrong ``Date`` can cost an
early refresh; it can never serve expired credentials.

Light (``datetime`` is never imported at module level): the cache-hit fast path judges entries
with the epoch-seconds functions; the datetime wrappers take values their callers already hold.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime, timedelta

MAX_TRUSTED_LIFETIME = 43_200.0  # s: an Expiration further away is trusted for 12 hours only
# Every SDK treats credentials with 15 minutes or less left as due: botocore re-runs a
# credential_process on every API call then, and the container provider asks the endpoint again.
# What is handed to an SDK (``process``, the endpoint) is refreshed at 16 minutes left when a fresh
# exchange gives more than that (DESIGN 3.4 and 5).
SDK_MIN_LEFT = 960.0


class Freshness(enum.Enum):
    """Three states, two windows (fresh > window left > stale > 0 left > expired)."""

    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


def scaled_window_seconds(window: float, lifetime: float) -> float:
    """The refresh window shrinks with short lifetimes: ``min(window, lifetime / 3)``."""
    return max(0.0, min(window, lifetime / 3))


def applied_skew(expires_at: float, issued_at: float, skew: float) -> float:
    """The part of ``skew`` (server minus local, s) that judges an entry: none when MDH's clock
    is behind, and never more than what was left when the entry arrived (it then looks expired).
    ``issued_at`` is on the server's clock: the entry arrived at ``issued_at - skew`` locally."""
    received = issued_at - skew
    return min(max(skew, 0.0), max(expires_at - received, 0.0))


def local_span(expires_at: float, issued_at: float, skew: float) -> tuple[float, float]:
    """``(received, expires)`` of an entry on this machine's clock (epoch seconds)."""
    return issued_at - skew, expires_at - applied_skew(expires_at, issued_at, skew)


def to_local_seconds(expires_at: float, issued_at: float, skew: float) -> float:
    """The entry's expiry on this machine's clock (what SDKs and backends compare with)."""
    return local_span(expires_at, issued_at, skew)[1]


def window_seconds(
    window: float, lifetime: float, *, min_left: float = 0.0, min_window: float = 0.0
) -> float:
    """How long before its expiry an entry of ``lifetime`` turns stale: the scaled window, at
    least ``min_window`` whatever the lifetime (an access token's 60 s), widened to ``min_left``
    when the lifetime exceeds it (``SDK_MIN_LEFT`` for what an SDK is handed)."""
    scaled = max(scaled_window_seconds(window, lifetime), min_window)
    return max(scaled, min_left) if lifetime > min_left else scaled


def due_at(
    expires_at: float,
    issued_at: float,
    skew: float,
    window: float,
    *,
    min_left: float = 0.0,
    min_window: float = 0.0,
) -> float:
    """When (local epoch seconds) an entry turns stale: the one refresh point that the broker,
    the fast path and the endpoint's keeper all use."""
    received, expires = local_span(expires_at, issued_at, skew)
    span = window_seconds(window, expires - received, min_left=min_left, min_window=min_window)
    return expires - span


def judge(
    expires_at: float,
    issued_at: float,
    skew: float,
    window: float,
    now: float,
    *,
    min_left: float = 0.0,
    min_window: float = 0.0,
) -> Freshness:
    """Judge an entry (epoch seconds; ``now`` on the local clock): fresh until :func:`due_at`,
    stale from then until its local expiry, then expired."""
    if to_local_seconds(expires_at, issued_at, skew) <= now:
        return Freshness.EXPIRED
    due = due_at(expires_at, issued_at, skew, window, min_left=min_left, min_window=min_window)
    return Freshness.STALE if now >= due else Freshness.FRESH


def to_local(expires_at: datetime, issued_at: datetime, skew: timedelta) -> datetime:
    """:func:`to_local_seconds` for datetimes."""
    from datetime import timedelta

    applied = applied_skew(expires_at.timestamp(), issued_at.timestamp(), skew.total_seconds())
    return expires_at - timedelta(seconds=applied)


def local_lifetime(expires_at: datetime, issued_at: datetime, skew: timedelta) -> timedelta:
    """How long the entry was valid for when it arrived, on this machine's clock."""
    from datetime import timedelta

    received, expires = local_span(
        expires_at.timestamp(), issued_at.timestamp(), skew.total_seconds()
    )
    return timedelta(seconds=max(expires - received, 0.0))


def scaled_window(window: timedelta, lifetime: timedelta) -> timedelta:
    """:func:`scaled_window_seconds` for timedeltas."""
    from datetime import timedelta

    return timedelta(
        seconds=scaled_window_seconds(window.total_seconds(), lifetime.total_seconds())
    )


def freshness(
    expires_at: datetime,
    issued_at: datetime,
    skew: timedelta,
    window: timedelta,
    now: datetime,
    *,
    min_left: float = 0.0,
    min_window: float = 0.0,
) -> Freshness:
    """:func:`judge` for datetimes (``now`` on the local clock)."""
    return judge(
        expires_at.timestamp(),
        issued_at.timestamp(),
        skew.total_seconds(),
        window.total_seconds(),
        now.timestamp(),
        min_left=min_left,
        min_window=min_window,
    )
