"""Fresh, stale or expired: the three states of a cached entry, and the server-to-local clock rule.

Light (``datetime`` is never imported at module level): the cache-hit fast path judges entries
with the epoch-seconds functions; the datetime wrappers take values their callers already hold.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime, timedelta


class Freshness(enum.Enum):
    """Three states, two windows (fresh > window left > stale > 0 left > expired)."""

    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


def scaled_window_seconds(window: float, lifetime: float) -> float:
    """The refresh window shrinks with short lifetimes: ``min(window, lifetime / 3)``."""
    return max(0.0, min(window, lifetime / 3))


def judge(expires_at: float, issued_at: float, window: float, now: float) -> Freshness:
    """Judge an entry (epoch seconds, server clock): fresh while more than the scaled window is
    left. ``now`` is the local time moved to the server's clock (``now + skew``)."""
    if now >= expires_at:
        return Freshness.EXPIRED
    if expires_at - now <= scaled_window_seconds(window, expires_at - issued_at):
        return Freshness.STALE
    return Freshness.FRESH


def to_local_seconds(server_seconds: float, skew_seconds: float) -> float:
    """A server time (epoch seconds) on this machine's clock. ``skew`` is server minus local,
    measured from MDH's ``Date`` header; the one place a server expiry becomes a local one."""
    return server_seconds - skew_seconds


def to_local(server_time: datetime, skew: timedelta) -> datetime:
    """:func:`to_local_seconds` for datetimes (SDKs and backends compare with local time)."""
    return server_time - skew


def scaled_window(window: timedelta, lifetime: timedelta) -> timedelta:
    """:func:`scaled_window_seconds` for timedeltas."""
    from datetime import timedelta

    return timedelta(
        seconds=scaled_window_seconds(window.total_seconds(), lifetime.total_seconds())
    )


def freshness(
    expires_at: datetime, issued_at: datetime, window: timedelta, now: datetime
) -> Freshness:
    """:func:`judge` for datetimes."""
    return judge(
        expires_at.timestamp(), issued_at.timestamp(), window.total_seconds(), now.timestamp()
    )
