"""Hand broker credentials to botocore as ``RefreshableCredentials`` that refresh with the broker.

botocore refreshes 15 minutes (advisory) and 10 minutes (mandatory) before expiry; the broker
treats an entry as stale ``min(refresh_window, lifetime / 3)`` before expiry. Both botocore windows
are scaled from each credential's own lifetime so that botocore never asks before the broker is
ready to exchange: advisory = ``min(900, broker window)``, mandatory = two thirds of that. When
botocore asks, the broker therefore sees a stale entry and returns new credentials.

botocore compares the expiry with the local clock, so the expiry handed over is moved by the
clock skew the broker measured against MDH (the broker judges in server time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from mdh_creds.formats import to_botocore_metadata
from mdh_creds.models import TemporaryCredentials, scaled_window

METHOD_NAME = "custom-mdh"
BOTOCORE_ADVISORY = 900.0
MANDATORY_SHARE = 2.0 / 3.0


def botocore_windows(creds: TemporaryCredentials, refresh_window: timedelta) -> tuple[float, float]:
    """``(advisory, mandatory)`` seconds for botocore, never wider than the broker's window."""
    broker_window = scaled_window(refresh_window, creds.expires_at - creds.issued_at)
    advisory = min(BOTOCORE_ADVISORY, broker_window.total_seconds())
    return advisory, advisory * MANDATORY_SHARE


def local_metadata(creds: TemporaryCredentials) -> dict[str, str]:
    """botocore's refresh metadata, the expiry expressed in local-clock time."""
    return to_botocore_metadata(
        dataclasses.replace(creds, expires_at=creds.expires_at - creds.skew)
    )


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


def refreshable(fetch: Callable[[], TemporaryCredentials], refresh_window: timedelta) -> Any:
    """``RefreshableCredentials`` from ``fetch`` (called now, then on each botocore refresh)."""
    from botocore.credentials import RefreshableCredentials

    refresher = Refresher(fetch, refresh_window)
    first = fetch()
    credentials = RefreshableCredentials.create_from_metadata(
        local_metadata(first), refresh_using=refresher, method=METHOD_NAME
    )
    apply_windows(credentials, first, refresh_window)
    refresher.target = credentials
    return credentials
