"""Fresh, stale or expired: the three states of a cached entry, judged in seconds.

Light (no datetime): the cache-hit fast path judges entries with it; ``timeline`` wraps it for
datetimes.
"""

from __future__ import annotations

import enum


class Freshness(enum.Enum):
    """Three states, two windows (fresh > window left > stale > 0 left > expired)."""

    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


def scaled_window_seconds(window: float, lifetime: float) -> float:
    """The refresh window shrinks with short lifetimes: ``min(window, lifetime / 3)``."""
    return max(0.0, min(window, lifetime / 3))


def judge(expires_at: float, issued_at: float, window: float, now: float) -> Freshness:
    """Judge an entry (epoch seconds): fresh while more than the scaled window is left."""
    if now >= expires_at:
        return Freshness.EXPIRED
    if expires_at - now <= scaled_window_seconds(window, expires_at - issued_at):
        return Freshness.STALE
    return Freshness.FRESH
