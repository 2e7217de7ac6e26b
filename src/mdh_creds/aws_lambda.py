"""AWS Lambda entry point: keep the shared DynamoDB cache fresh; answer with the expiry only.

Configure the function with the ``MDH_*`` environment variables (``MDH_SERVICE_ACCOUNT``,
``MDH_PRIVATE_KEY`` or ``MDH_SECRET_ID``, ``MDH_PROJECT_CODE`` or ``MDH_PROJECT_ID``,
``MDH_DYNAMODB_TABLE``...); the cache is always the DynamoDB table, whatever ``MDH_CACHE`` says.
Schedule it (EventBridge) more often than the refresh window so readers never exchange.

The broker is built once per execution environment and reused by warm invocations. The answer is
``{"status": ..., "expires_at": "...Z"}`` with status

* ``fresh``: the cached credentials were fresh, nothing was exchanged;
* ``refreshed``: this invocation exchanged and stored new credentials;
* ``stale``: a refresh was due but failed; the cached credentials (valid until ``expires_at``)
  were kept and the reason is in the log.

Neither the answer nor the log carries a secret.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mdh_creds.broker import CredentialBroker
from mdh_creds.cache import CacheBackend
from mdh_creds.clock import utc_now
from mdh_creds.errors import CacheUnavailable
from mdh_creds.models import CacheKey, Freshness, TemporaryCredentials, freshness, to_timestamp

_log = logging.getLogger(__name__)
_lock = threading.Lock()


class SaveWatch:
    """A cache backend that passes every call through and notes the keys saved."""

    def __init__(self, inner: CacheBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.saved: set[CacheKey] = set()

    def __repr__(self) -> str:
        return f"SaveWatch({self.inner!r})"

    def describe(self) -> str:
        return self.inner.describe()

    def load(self, key: CacheKey) -> bytes | None:
        return self.inner.load(key)

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        self.inner.save(key, sealed, expires_at)
        self.saved.add(key)

    def delete(self, key: CacheKey) -> None:
        self.inner.delete(key)

    def list_keys(self) -> Iterator[CacheKey]:
        return self.inner.list_keys()

    def lock(self, key: CacheKey, timeout: float) -> AbstractContextManager[None]:
        return self.inner.lock(key, timeout)


@dataclass(frozen=True)
class _Built:
    broker: CredentialBroker
    watch: SaveWatch


_built: list[_Built] = []


def _build() -> _Built:
    """The broker from the environment, its cache the DynamoDB table (errors raised, not hidden)."""
    from mdh_creds.factory import build_broker, select_cache
    from mdh_creds.settings import parse_settings

    environ = os.environ
    settings = parse_settings(environ, {"cache": "dynamodb"})
    watch = SaveWatch(select_cache(settings, environ, name="dynamodb"))
    return _Built(build_broker(settings, environ=environ, cache=watch), watch)


def _current() -> _Built:
    with _lock:
        if not _built:
            _built.append(_build())
        return _built[0]


def cached_broker() -> CredentialBroker | None:
    """The broker this execution environment reuses, if one was built."""
    return _built[0].broker if _built else None


def _forget() -> None:
    with _lock:
        _built.clear()


def _reset_for_tests() -> None:
    """Forget the broker, as a new execution environment would."""
    _forget()


def _status(built: _Built, creds: TemporaryCredentials) -> str:
    if built.broker.cred_key in built.watch.saved:
        return "refreshed"
    window = built.broker.policy.refresh_window
    state = freshness(creds.expires_at, creds.issued_at, window, utc_now() + creds.skew)
    return "fresh" if state is Freshness.FRESH else "stale"


def handler(event: Any, context: Any) -> dict[str, str]:
    """Refresh the shared cache when its credentials are due; never return a secret.

    Lambda runs one invocation at a time per execution environment, as this assumes.
    """
    del event, context
    built = _current()
    built.watch.saved.clear()
    creds = built.broker.get_credentials()
    if built.broker.cache is None:
        _forget()
        raise CacheUnavailable(
            "the DynamoDB cache failed during this invocation (see the warning above); "
            "the next invocation rebuilds it"
        )
    status = _status(built, creds)
    expires_at = to_timestamp(creds.expires_at)
    log = _log.warning if status == "stale" else _log.info
    log("mdh-creds cache %s; credentials valid until %s", status, expires_at)
    return {"status": status, "expires_at": expires_at}
