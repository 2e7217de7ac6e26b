"""AWS Lambda entry point: keep the shared DynamoDB cache fresh; answer with the expiry only.

Configure the function with the ``MDH_*`` environment variables (``MDH_SERVICE_ACCOUNT``,
``MDH_PRIVATE_KEY`` or ``MDH_SECRET_ID``, ``MDH_PROJECT_CODE`` or ``MDH_PROJECT_ID``,
``MDH_DYNAMODB_TABLE``...); the cache is always the DynamoDB table, whatever ``MDH_CACHE`` says.
With ``AWS_PROFILE`` naming a role chained on an mdh profile (in the ``AWS_CONFIG_FILE`` shipped
with the function) it keeps that role's credentials, and each hop below, fresh in the table:
readers of the role profile then find them there and assume nothing themselves.
Schedule it (EventBridge) more often than the refresh window so readers never exchange.
For an API client (``MDH_CLIENT_ID`` and ``MDH_CLIENT_SECRET``, or the older token SDK's
``SECRET_NAME`` holding ``consumerKey``/``consumerSecret``) it keeps the access token fresh
instead, with the same window (scaled to the token's lifetime).

The broker is built once per execution environment and reused by warm invocations. The answer is
``{"status": ..., "expires_at": "...Z"}`` with status

* ``fresh``: the cached credentials (or token) were fresh, nothing was exchanged;
* ``refreshed``: this invocation exchanged and stored new ones;
* ``repaired``: as ``refreshed``, and what it replaced was unsound (an item that did not parse or
  open, another profile's, a replayed older entry, a lease that would never lapse): one warning
  names it. A table that keeps needing repair has a faulty or hostile writer;
* ``stale``: a refresh was due but failed; the cached ones (valid until ``expires_at``) were
  kept and the reason is in the log.

Every invocation, failed ones included, prints one CloudWatch Embedded Metric Format line on
stdout (namespace ``MdhCreds``, dimension ``Table``): ``Refreshed``, ``Repaired``, ``Stale`` and
``Failed`` (0 or 1), ``Exchanges``, ``LeaseWaitSeconds`` and ``SecondsToExpiry``, with ``Outcome``
and ``ExpiresAt`` as properties. Alarm on ``Stale`` or ``Failed`` at 1, on ``Repaired`` summed over
a day, and on ``SecondsToExpiry`` falling below the refresh window.

Neither the answer, the log nor the metrics carry a secret.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TextIO

from mdh_creds.broker import CredentialBroker
from mdh_creds.cache.base import CacheBackend
from mdh_creds.cache.stored import CacheKey
from mdh_creds.clock import to_timestamp, utc_now
from mdh_creds.errors import CacheUnavailable
from mdh_creds.freshness import Freshness
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.version import __version__

_log = logging.getLogger(__name__)


class SaveWatch(CacheBackend):
    """A cache backend that passes every call through, noting the keys saved (each one an
    exchange) and the time spent waiting for locks, per invocation (``reset``)."""

    def __init__(self, inner: CacheBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.saved: set[CacheKey] = set()
        self.saves = 0
        self.lock_wait = 0.0
        self._repaired_before = 0

    def __repr__(self) -> str:
        return f"SaveWatch({self.inner!r})"

    def reset(self) -> None:
        self.saved.clear()
        self.saves, self.lock_wait = 0, 0.0
        self._repaired_before = self._inner_repaired()

    def _inner_repaired(self) -> int:
        return int(getattr(self.inner, "repaired", 0))

    @property
    def repaired(self) -> int:
        """Unsound items of the table replaced since ``reset``."""
        return self._inner_repaired() - self._repaired_before

    def check(self, key: CacheKey, sealed_expiry: float | None) -> None:
        self.inner.check(key, sealed_expiry)

    def describe(self) -> str:
        return self.inner.describe()

    def load(self, key: CacheKey) -> bytes | None:
        return self.inner.load(key)

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        self.inner.save(key, sealed, expires_at)
        self.saved.add(key)
        self.saves += 1

    def delete(self, key: CacheKey) -> None:
        self.inner.delete(key)

    def list_keys(self) -> Iterator[CacheKey]:
        return self.inner.list_keys()

    @contextmanager
    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        started, waited = time.monotonic(), False
        try:
            with self.inner.lock(key, timeout, ready):
                self.lock_wait += time.monotonic() - started
                waited = True
                yield
        finally:
            if not waited:
                self.lock_wait += time.monotonic() - started


class ExecutionEnvironment:
    """What one Lambda execution environment keeps between invocations: the broker, built on the
    first invocation from the environment variables, its cache the DynamoDB table."""

    def __init__(self, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._out = out  # where the EMF line goes: stdout, which Lambda sends to CloudWatch
        self._table = self._environ.get("MDH_DYNAMODB_TABLE") or "mdh-creds-cache"
        self._lock = threading.Lock()
        self._built: tuple[CredentialBroker, SaveWatch] | None = None

    def __repr__(self) -> str:
        return f"ExecutionEnvironment(built={self._built is not None})"

    @property
    def broker(self) -> CredentialBroker | None:
        """The broker warm invocations reuse, once one was built."""
        return self._built[0] if self._built else None

    def _current(self) -> tuple[CredentialBroker, SaveWatch]:
        """The broker and its watched cache (errors raised, not hidden)."""
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def _build(self) -> tuple[CredentialBroker, SaveWatch]:
        """The broker of ``AWS_PROFILE`` (a role chained on an mdh profile: its last hop, every
        hop kept in the table as a reader of that role keeps it) on the watched table."""
        from mdh_creds.factory import build_broker, build_chain_broker, select_cache
        from mdh_creds.roles.resolve import settings_chain
        from mdh_creds.settings.model import parse_settings

        flags = {"cache": "dynamodb"}
        settings = parse_settings(self._environ, flags)
        chained = settings_chain(settings, self._environ, flags)
        root = chained[1] if chained is not None else settings  # whose cache keeps the chain
        self._table = root.dynamodb_table
        # The refresher reads the table itself: a local copy would hide an emptied table.
        table = select_cache(root, self._environ, name="dynamodb", local_copies=False)
        watch = SaveWatch(table)
        if chained is not None:
            return build_chain_broker(*chained, environ=self._environ, cache=watch), watch
        return build_broker(settings, environ=self._environ, cache=watch), watch

    def handle(self, event: Any, context: Any) -> dict[str, str]:
        """Refresh the shared cache when its credentials are due; never return a secret.

        Prints one EMF document (``aws.metrics``) whatever happens, failures included. Lambda
        runs one invocation at a time per execution environment, as this assumes.
        """
        del event
        outcome, entry = "error", None
        try:
            broker, watch = self._current()
            watch.reset()
            entry = _refresh(broker)
            if broker.cache is None:
                self._built = None
                raise CacheUnavailable(
                    "the DynamoDB cache failed during this invocation (see the warning above); "
                    "the next invocation rebuilds it"
                )
            outcome = _status(broker, watch, entry)
        finally:
            self._emit(outcome, entry, context)
        expires_at = to_timestamp(entry.expires_at)
        log = _log.warning if outcome == "stale" else _log.info
        what = "access token" if isinstance(entry, AccessToken) else "credentials"
        log("mdh-creds cache %s; %s valid until %s", outcome, what, expires_at)
        return {"status": outcome, "expires_at": expires_at}

    def _emit(
        self, outcome: str, entry: AccessToken | TemporaryCredentials | None, context: Any
    ) -> None:
        """The invocation's metrics: an operator alarms on ``Stale``, ``Failed`` and
        ``SecondsToExpiry`` without a line of code."""
        from mdh_creds.aws.metrics import emf_document

        watch = self._built[1] if self._built else None
        metrics = {
            "Refreshed": (int(outcome in ("refreshed", "repaired")), "Count"),
            "Repaired": (int(outcome == "repaired"), "Count"),
            "Stale": (int(outcome == "stale"), "Count"),
            "Failed": (int(outcome == "error"), "Count"),
            "Exchanges": (watch.saves if watch else 0, "Count"),
            "LeaseWaitSeconds": (round(watch.lock_wait if watch else 0.0, 3), "Seconds"),
        }
        properties: dict[str, object] = {"Outcome": outcome, "Version": __version__}
        if entry is not None:
            left = entry.local_expires_at - utc_now()  # the skew rule of ``freshness``
            metrics["SecondsToExpiry"] = (round(left.total_seconds(), 1), "Seconds")
            properties["ExpiresAt"] = to_timestamp(entry.expires_at)
        request = getattr(context, "aws_request_id", None)
        if isinstance(request, str):
            properties["RequestId"] = request
        dimensions = {"Table": self._table}
        line = emf_document(metrics, dimensions=dimensions, properties=properties)
        print(line, file=self._out or sys.stdout, flush=True)


def _refresh(broker: CredentialBroker) -> AccessToken | TemporaryCredentials:
    """The credentials, or for an API client the access token, refreshed when inside the window."""
    if broker.tokens_only:
        return broker.get_access_token(broker.policy.refresh_window)
    return broker.get_credentials()


def _status(
    broker: CredentialBroker, watch: SaveWatch, entry: AccessToken | TemporaryCredentials
) -> str:
    key = broker.token_key if isinstance(entry, AccessToken) else broker.cred_key
    if key in watch.saved:
        return "repaired" if watch.repaired else "refreshed"
    state = broker.state(entry, broker.policy.refresh_window)
    return "fresh" if state is Freshness.FRESH else "stale"


_ENVIRONMENT = ExecutionEnvironment()


def handler(event: Any, context: Any) -> dict[str, str]:
    """The Lambda entry point: ``ExecutionEnvironment.handle`` of this execution environment."""
    return _ENVIRONMENT.handle(event, context)
