"""Keep the credentials an endpoint serves in memory, refreshed by a background thread.

What is held is refreshed when the broker would judge it stale (``CredentialBroker.refresh_due``,
the rule of ``freshness.due_at`` that ``process`` follows too), so a request never waits for MDH
and what is served keeps more than 15 minutes when the lifetime allows. A refresh that fails
keeps the credentials held until they expire (stale-while-error) and is tried again after a
back-off that doubles from one second up to 30 seconds, but comes at least four times before the
held credentials expire. Once they have expired, ``current()`` is ``None`` (the endpoint answers
503) until a refresh succeeds.

Times are wall-clock seconds since the epoch on this machine's clock (the expiry moved by the
skew measured against MDH), as the SDKs compare them; the thread re-reads the clock at least every
minute, so a machine waking from sleep refreshes at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mdh_creds.clock import to_timestamp
from mdh_creds.errors import MdhCredsError
from mdh_creds.models import TemporaryCredentials
from mdh_creds.redact import redact
from mdh_creds.server.threads import leave_signals_to_the_main_thread

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
MIN_BACKOFF = 0.1
MAX_SLEEP = 60.0
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    """Credentials with the two moments that matter, in local epoch seconds."""

    creds: TemporaryCredentials
    expires: float
    due: float


def hold(creds: TemporaryCredentials, due: Callable[[TemporaryCredentials], float]) -> Held:
    """``creds`` with their local expiry and the moment they are due for a refresh."""
    return Held(creds, creds.local_expires_at.timestamp(), due(creds))


class CredentialKeeper:
    """Holds the credentials to serve; ``start()`` fetches the first, then refreshes in a thread.

    ``fetch`` is the broker's ``get_credentials`` (it raises ``MdhCredsError``); ``due`` its
    ``refresh_due``; ``max_backoff`` the longest pause between failed attempts. ``fetches``
    counts the calls made to ``fetch``.
    """

    def __init__(
        self,
        fetch: Callable[[], TemporaryCredentials],
        due: Callable[[TemporaryCredentials], float],
        *,
        clock: Callable[[], float] = time.time,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self._fetch = fetch
        self._max_backoff = max_backoff
        self._due = due
        self._clock = clock
        self._held: Held | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._retry_at = 0.0
        self.fetches = 0

    def __repr__(self) -> str:
        held = self._held
        until = to_timestamp(held.creds.local_expires_at) if held else "nothing"
        return f"CredentialKeeper(holding until {until})"

    def start(self) -> TemporaryCredentials:
        """Fetch the first credentials here (errors reach the caller), then keep them fresh."""
        creds = self.refresh()
        self._thread = threading.Thread(target=self._run, name="mdh-creds-refresh", daemon=True)
        self._thread.start()
        return creds

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the refresh thread (it is waiting, or finishing one fetch)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def current(self) -> TemporaryCredentials | None:
        """The credentials to serve, or ``None`` when none are valid now."""
        held = self._held
        if held is None or self._clock() >= held.expires:
            return None
        return held.creds

    def state(self) -> str:
        """``fresh`` (held, not yet due), ``stale`` (held and valid, past due: a refresh is under
        way or failing) or ``unavailable`` (nothing valid held)."""
        held, now = self._held, self._clock()
        if held is None or now >= held.expires:
            return "unavailable"
        return "fresh" if now < held.due else "stale"

    def refresh(self) -> TemporaryCredentials:
        """Ask the broker now (it serves its cache while fresh) and hold the answer."""
        self.fetches += 1
        creds = self._fetch()
        self._held = held = hold(creds, self._due)
        _log.debug(
            "holding credentials valid until %s; next refresh in %.0f s",
            to_timestamp(creds.local_expires_at),
            max(0.0, held.due - self._clock()),
        )
        return creds

    def _run(self) -> None:
        leave_signals_to_the_main_thread()
        while not self._stopped.is_set():
            held = self._held
            wake = max(held.due if held else 0.0, self._retry_at)
            delay = wake - self._clock()
            if delay > 0:
                self._stopped.wait(min(delay, MAX_SLEEP))
                continue
            self._attempt()

    def _attempt(self) -> None:
        try:
            self.refresh()
        except MdhCredsError as exc:
            self._report(redact(str(exc)))
        except Exception as exc:  # the thread must outlive any surprise
            _log.debug("refresh error", exc_info=True)
            self._report(type(exc).__name__)
        now, held = self._clock(), self._held
        if held is not None and held.due > now:
            self._failures = 0
            return
        # Not refreshed (failed, or the broker served its stale entry and said so): back off.
        self._failures += 1
        self._retry_at = now + self._backoff(held.expires - now if held else 0.0)

    def _report(self, reason: str) -> None:
        creds = self.current()
        keeping = (
            f"serving the credentials held until {to_timestamp(creds.local_expires_at)}"
            if creds is not None
            else "no valid credentials to serve until a refresh succeeds"
        )
        _log.warning("refreshing the served credentials failed (%s); %s", reason, keeping)

    def _backoff(self, remaining: float) -> float:
        delay = min(FIRST_BACKOFF * 2.0 ** min(self._failures - 1, 16), self._max_backoff)
        if remaining > 0:
            delay = min(delay, remaining / 4)
        return max(delay, MIN_BACKOFF)
