"""Retry what can succeed on retry (connection errors, timeouts, 429, 5xx) with backoff and jitter.

Never 400/401/403: those are answers. ``Retry-After`` (seconds or an HTTP date) is honoured up to
30 s. The caller's ``attempt`` builds everything afresh each time (a new assertion, a new ``jti``).
A whole call, attempts and waits, ends by its deadline (``call_budget``): a wait that would pass
it is not made, and the last error is raised; locks and leases are sized to outlast two calls.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

from mdh_creds.errors import ExchangeUnavailable

T = TypeVar("T")
MAX_RETRY_AFTER = 30.0
_log = logging.getLogger(__name__)


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 10.2.3), capped at 30 s."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else None
        if seconds is None:
            when = parsedate_to_datetime(text)
            seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: base * 2**n, scaled by a random factor in [0.5, 1.5)."""

    retries: int
    base_ms: int
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, hint: float | None = None) -> float:
        if hint is not None:
            return hint
        return min(MAX_RETRY_AFTER, self.base_ms / 1000.0 * 2.0**attempt * (0.5 + self.rng()))

    @property
    def longest_wait(self) -> float:
        """The longest wait between two attempts that a call is sized for."""
        return min(MAX_RETRY_AFTER, self.base_ms / 1000.0 * 2.0**self.retries * 1.5)


def call_budget(timeout: float, backoff: Backoff) -> float:
    """Seconds one whole call may take: every attempt's timeout and a wait between each two."""
    return (backoff.retries + 1) * timeout + backoff.retries * backoff.longest_wait


def call_with_retries(
    attempt: Callable[[], T],
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    *,
    deadline: float | None = None,
) -> T:
    """Run ``attempt`` up to ``retries + 1`` times while it raises ``ExchangeUnavailable``,
    never waiting past ``deadline`` (``time.monotonic``)."""
    for number in range(backoff.retries + 1):
        try:
            return attempt()
        except ExchangeUnavailable as exc:
            wait = backoff.delay(number, exc.retry_after)
            if number >= backoff.retries or _past(deadline, wait):
                raise
            _log.debug("attempt %d failed (%s); retrying in %.2f s", number + 1, exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _past(deadline: float | None, wait: float) -> bool:
    return deadline is not None and time.monotonic() + wait >= deadline
