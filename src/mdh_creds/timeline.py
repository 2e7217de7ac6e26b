"""Time on the wire and in the cache: ISO 8601 parsing, the ``Z`` form, and freshness.

Light on purpose (no dataclasses, no hashlib): the cache-hit fast path imports it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from mdh_creds.freshness import Freshness, judge, scaled_window_seconds

__all__ = ["Freshness", "freshness", "parse_timestamp", "scaled_window", "to_timestamp"]

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 time with a timezone (``Z`` accepted on every Python) -> aware UTC datetime.

    Raises ``ValueError`` when the text is not a time or carries no timezone.
    """
    if not isinstance(text, str) or not text or len(text) > 64:
        raise ValueError("not an ISO 8601 timestamp")
    cleaned = text.strip()
    if cleaned[-1:] in ("Z", "z"):
        cleaned = cleaned[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes 0, 3 or 6 fraction digits only: normalise to 6.
    match = _FRACTION.search(cleaned)
    if match:
        digits = (match.group(1) + "000000")[:6]
        cleaned = cleaned[: match.start()] + "." + digits + cleaned[match.end() :]
    value = datetime.fromisoformat(cleaned)
    if value.tzinfo is None:
        raise ValueError("timestamp has no timezone")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # within a day of year 1 or 9999
        raise ValueError("timestamp out of range") from None


def to_timestamp(value: datetime) -> str:
    """UTC, ``Z`` suffix, no fractions: what every AWS SDK accepts (the Java SDK wants ``Z``)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scaled_window(window: timedelta, lifetime: timedelta) -> timedelta:
    """The refresh window shrinks with short lifetimes: ``min(window, lifetime / 3)``."""
    seconds = scaled_window_seconds(window.total_seconds(), lifetime.total_seconds())
    return timedelta(seconds=seconds)


def freshness(
    expires_at: datetime, issued_at: datetime, window: timedelta, now: datetime
) -> Freshness:
    """Judge an entry: fresh while more than the (scaled) window is left."""
    return judge(
        expires_at.timestamp(), issued_at.timestamp(), window.total_seconds(), now.timestamp()
    )
