"""Time: one injectable clock, and the two ways a time is written (ISO 8601 in, ``Z`` form out)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]
_FRACTION = re.compile(r"\.(\d+)")
_REAL_YEARS = (2000, 3000)  # a Date outside is not a real time: ignored, never an error


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


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
    except OverflowError as exc:  # within a day of year 1 or 9999
        raise ValueError("timestamp out of range") from exc


def to_timestamp(value: datetime) -> str:
    """UTC, ``Z`` suffix, no fractions: what every AWS SDK accepts (the Java SDK wants ``Z``)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_http_date(text: str | None) -> datetime | None:
    """An HTTP ``Date`` header (RFC 9110 5.6.7) that can be a real time, as aware UTC, or
    ``None``: garbage, no zone, or a year no clock of a working exchange shows (year 9999)."""
    from email.utils import parsedate_to_datetime

    if not text or len(text) > 64:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value is None or value.tzinfo is None or not _REAL_YEARS[0] <= value.year < _REAL_YEARS[1]:
        return None
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        return None


def relative(seconds: int) -> str:
    """A time from now as people say it: ``in 42 min``, ``in 1 h 5 min``, ``3 min ago``."""
    span = abs(seconds)
    if span < 60:
        text = f"{span} s"
    elif span < 3600:
        text = f"{span // 60} min"
    else:
        hours, minutes = divmod(span // 60, 60)
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"in {text}" if seconds >= 0 else f"{text} ago"
