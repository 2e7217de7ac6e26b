"""Hand broker credentials to botocore as ``RefreshableCredentials`` that refresh with the broker.

botocore refreshes 15 minutes (advisory) and 10 minutes (mandatory) before expiry; the broker
treats an entry as stale ``min(refresh_window, lifetime / 3)`` before expiry. Both botocore windows
are scaled from each credential's own lifetime so that botocore never asks before the broker is
ready to exchange: advisory = ``min(900, broker window)``, mandatory = two thirds of that. When
botocore asks, the broker therefore sees a stale entry and returns new credentials.

botocore compares the expiry with the local clock, so the expiry handed over is moved by the
clock skew the broker measured against MDH, by the rule of ``freshness`` (a skew only ages them).

botocore's ``RefreshableCredentials`` asks the local time zone (tzlocal) on every credential read.
:class:`MdhRefreshableCredentials` reads the clock in UTC instead and, after each check, keeps
the moment before which no refresh can be needed (``_refresh_at``, seconds since the epoch):
until then a read is one clock call and one comparison. From that moment on botocore's own logic
runs unchanged (advisory refresh by one thread, mandatory refresh blocking every thread, an
advisory failure keeping the old credentials, a mandatory failure raised). While the credentials
stay inside the advisory window (a failed refresh, or another thread refreshing), the next attempt
comes ``retry_backoff`` seconds later, never later than the start of the mandatory window.

The moment is on the wall clock, as botocore's own comparison is: a monotonic clock stops while
the machine is suspended and would keep serving credentials that expired during the sleep.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.credentials import ReadOnlyCredentials, RefreshableCredentials

from mdh_creds.clock import utc_now
from mdh_creds.formats import to_botocore_metadata
from mdh_creds.freshness import scaled_window
from mdh_creds.models import TemporaryCredentials

METHOD_NAME = "custom-mdh"
BOTOCORE_ADVISORY = 900.0
MANDATORY_SHARE = 2.0 / 3.0
RETRY_BACKOFF = 5.0


def botocore_windows(creds: TemporaryCredentials, refresh_window: timedelta) -> tuple[float, float]:
    """``(advisory, mandatory)`` seconds for botocore, never wider than the broker's window."""
    broker_window = scaled_window(refresh_window, creds.lifetime)
    advisory = min(BOTOCORE_ADVISORY, broker_window.total_seconds())
    return advisory, advisory * MANDATORY_SHARE


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def local_metadata(creds: TemporaryCredentials) -> dict[str, str]:
    """botocore's refresh metadata, the expiry expressed in local-clock time (aware, UTC)."""
    return to_botocore_metadata(
        dataclasses.replace(creds, expires_at=as_utc(creds.local_expires_at))
    )


def _utc_clock(clock: Callable[[], float]) -> Callable[[], datetime]:
    if clock is time.time:
        return utc_now
    return lambda: datetime.fromtimestamp(clock(), timezone.utc)


class MdhRefreshableCredentials(RefreshableCredentials):
    """``RefreshableCredentials`` with a UTC clock and a lock-free read until a refresh is due.

    ``clock`` gives seconds since the epoch (``time.time``); botocore's ``time_fetcher`` is
    derived from it, so both judge the same time. The frozen triple is replaced by botocore in one
    assignment, and ``_refresh_at`` is written only after it, so a reader that sees the new moment
    also sees the new triple.
    """

    # Attributes of botocore's class that its type stubs do not declare.
    _advisory_refresh_timeout: float
    _mandatory_refresh_timeout: float
    _expiry_time: datetime | None
    _staged_expiry_time: datetime | None
    _frozen_credentials: ReadOnlyCredentials
    _time_fetcher: Callable[[], datetime]

    retry_backoff = RETRY_BACKOFF

    def __init__(  # noqa: PLR0917 (botocore's signature)
        self,
        access_key: str,
        secret_key: str,
        token: str,
        expiry_time: datetime,
        refresh_using: Callable[[], Any],
        method: str,
        time_fetcher: Callable[[], datetime] | None = None,
        advisory_timeout: int | None = None,
        mandatory_timeout: int | None = None,
        account_id: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._refresh_at = -math.inf
        self._attempted_at = -math.inf
        self._schedule_lock = threading.Lock()
        super().__init__(
            access_key,
            secret_key,
            token,
            as_utc(expiry_time),
            refresh_using,
            method,
            time_fetcher=time_fetcher or _utc_clock(clock),
            advisory_timeout=advisory_timeout,
            mandatory_timeout=mandatory_timeout,
            account_id=account_id,
        )

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        if self._clock() < self._refresh_at:
            return self._frozen_credentials
        self._refresh()
        return self._frozen_credentials

    def _refresh(self) -> None:
        """botocore's check (and refresh) once the moment has come, then the next moment."""
        if self._clock() < self._refresh_at:
            return
        super()._refresh()  # type: ignore[misc]
        self._schedule()

    def _protected_refresh(self, is_mandatory: bool) -> None:
        self._attempted_at = self._clock()
        super()._protected_refresh(is_mandatory)  # type: ignore[misc]

    def _schedule(self) -> None:
        """Set ``_refresh_at`` from the credentials now held (not advanced by a failure)."""
        with self._schedule_lock:
            expiry = self._expiry_time
            if expiry is None:
                self._refresh_at = math.inf
                return
            now = self._clock()
            expires = expiry.timestamp()
            due = expires - self._advisory_refresh_timeout
            if due <= now:
                # Inside the advisory window: the last attempt failed, or is still running in
                # another thread. Try again after the back-off from that attempt, but no later
                # than the mandatory window, where botocore blocks and raises.
                mandatory = expires - self._mandatory_refresh_timeout
                due = max(now, min(self._attempted_at + self.retry_backoff, mandatory))
            self._refresh_at = due

    def _set_from_data(self, data: dict[str, Any]) -> None:
        super()._set_from_data(data)  # type: ignore[misc]
        if self._staged_expiry_time is not None:
            self._staged_expiry_time = as_utc(self._staged_expiry_time)


class Refresher:
    """The ``refresh_using`` callback: fetch, rescale the target's windows, return metadata."""

    def __init__(
        self, fetch: Callable[[], TemporaryCredentials], refresh_window: timedelta
    ) -> None:
        self._fetch = fetch
        self._window = refresh_window
        self.target: Any = None

    def __repr__(self) -> str:
        return f"Refresher(window={self._window.total_seconds():g}s)"

    def __call__(self) -> dict[str, str]:
        creds = self._fetch()
        if self.target is not None:
            apply_windows(self.target, creds, self._window)
        return local_metadata(creds)


def apply_windows(target: Any, creds: TemporaryCredentials, refresh_window: timedelta) -> None:
    """Set botocore's advisory and mandatory windows on ``target`` for these credentials."""
    advisory, mandatory = botocore_windows(creds, refresh_window)
    target._advisory_refresh_timeout = advisory
    target._mandatory_refresh_timeout = mandatory


def refreshable(
    fetch: Callable[[], TemporaryCredentials], refresh_window: timedelta
) -> MdhRefreshableCredentials:
    """Refreshable credentials from ``fetch`` (called now, then on each botocore refresh)."""
    refresher = Refresher(fetch, refresh_window)
    first = fetch()
    credentials = MdhRefreshableCredentials.create_from_metadata(
        local_metadata(first), refresh_using=refresher, method=METHOD_NAME
    )
    apply_windows(credentials, first, refresh_window)
    refresher.target = credentials
    return credentials
