"""CredentialBroker: check, lock, check again, exchange, seal, save. It does no I/O itself.

Entries are judged fresh, stale or expired (DESIGN section 5). A stale entry whose refresh fails is
served with a warning; an expired one is refreshed or the error is raised. A cache that breaks at
run time is dropped with one warning and the exchange goes on without it. An access token is
handed out from the cache only with more than 60 seconds left (its window never shrinks with its
lifetime, as the credentials' does); a broker for an API client (``refuse_credentials``) serves
tokens only.

Its parts are in ``mdh_creds.brokering``; the names the package uses are imported from here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from mdh_creds.brokering.listing import EntryStatus, list_entries
from mdh_creds.brokering.rotation import Rotation
from mdh_creds.brokering.store import SealedStore
from mdh_creds.brokering.terms import (
    TOKEN_WINDOW,
    Entry,
    Exchange,
    Policy,
    Reload,
    Source,
    no_exchange,
)
from mdh_creds.cache.backends import CacheBackend
from mdh_creds.cache.stored import KIND_CREDENTIALS, KIND_TOKEN, CacheKey
from mdh_creds.clock import Clock, to_timestamp, utc_now
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheError, ConfigError, ExchangeError, ExchangeRejected, LockTimeout
from mdh_creds.freshness import Freshness, due_at, freshness
from mdh_creds.models import AccessToken, TemporaryCredentials

__all__ = [
    "TOKEN_WINDOW",
    "CredentialBroker",
    "EntryStatus",
    "Exchange",
    "Policy",
    "Reload",
    "Source",
]

_log = logging.getLogger(__name__)


class CredentialBroker:
    """Serves credentials and access tokens from the cache, refreshing them once, in one place."""

    def __init__(
        self,
        *,
        identity: dict[str, str],
        exchange: Callable[[], Exchange],
        cache: CacheBackend | None,
        sealer: Sealer | None,
        clock: Clock = utc_now,
        policy: Policy | None = None,
        refuse_credentials: str | None = None,
        reload: Reload | None = None,
        source: Source | None = None,
    ) -> None:
        """``source``, when given, yields the credentials instead of ``exchange`` (which then
        only ever answers for tokens, and may refuse them)."""
        self._store = SealedStore(cache, sealer, _log)
        self._rotation = Rotation(exchange, reload, self._store.rekey, _log)
        self._source = source
        self._refusal = refuse_credentials
        self._clock = clock
        self.policy = policy or Policy()
        self.cred_key = CacheKey.for_identity(identity, KIND_CREDENTIALS)
        self.token_key = CacheKey.for_identity(identity, KIND_TOKEN)
        self._forced: set[str] = set()
        self._token_fetches = 0
        self._below: CredentialBroker | None = None  # the broker ``on_source`` was called on

    @property
    def cache(self) -> CacheBackend | None:
        return self._store.cache

    def on_source(
        self, identity: dict[str, str], source: Source, policy: Policy | None = None
    ) -> CredentialBroker:
        """A broker for the credentials ``source`` yields (a role assumed on these), kept in
        this broker's cache under ``identity``, sealed by its sealer, single-flighted by its
        locks; it makes no MDH call."""
        broker = CredentialBroker(
            identity=identity,
            exchange=no_exchange,
            cache=self._store.cache,
            sealer=self._store.sealer,
            clock=self._clock,
            policy=policy or self.policy,
            source=source,
        )
        broker._below = self
        return broker

    def _own_keys(self) -> list[CacheKey]:
        """This broker's keys, and those of the brokers its source stands on (``status``)."""
        below = self._below._own_keys() if self._below is not None else []
        return [self.cred_key, self.token_key, *below]

    @property
    def tokens_only(self) -> bool:
        """True for an API client (client-secret grant): access tokens, no AWS credentials."""
        return self._refusal is not None

    def get_credentials(self) -> TemporaryCredentials:
        """AWS credentials, from the cache when fresh, else from one exchange."""
        if self._refusal is not None:
            raise ConfigError(self._refusal)
        return self._serve(
            self.cred_key, TemporaryCredentials, self.policy.refresh_window, self._fetch_credentials
        )

    def get_access_token(self, window: timedelta = TOKEN_WINDOW) -> AccessToken:
        """The access token, cached until ``expires_in`` minus 60 s. A wider ``window`` (the
        Lambda refresher's) refreshes earlier; it scales with the token's lifetime."""
        return self._serve(self.token_key, AccessToken, window, self._fetch_token)

    def _fetch_token(self) -> AccessToken:
        self._token_fetches += 1
        return self._rotation.exchange().fetch_access_token()

    def _fetch_credentials(self) -> TemporaryCredentials:
        if self._source is not None:
            return self._source.fetch_credentials()
        fetches = self._token_fetches
        token = self.get_access_token()
        try:
            return self._rotation.exchange().fetch_credentials(token)
        except ExchangeRejected as exc:
            if exc.status != 401 or self._token_fetches != fetches:
                raise
        # A cached token the explorer refuses (revoked, or the server restarted): drop it and
        # try once more with a new one rather than failing until it expires.
        _log.debug("the explorer refused the cached access token; fetching a new one")
        token = self._fetch_token()
        self._save(token)
        return self._rotation.exchange().fetch_credentials(token)

    def _serve(
        self, key: CacheKey, kind: type[Entry], window: timedelta, fetch: Callable[[], Entry]
    ) -> Entry:
        forced = self.policy.force_refresh and key.kind not in self._forced
        entry = None if forced else self._store.load(key, kind)
        if entry is not None and self.state(entry, window) is Freshness.FRESH:
            self._event("cache hit", key)
            return entry
        found: list[Entry] = []  # what ``ready`` saw, when a waiter returned without the lock
        ready = self._fresh_stored(key, kind, window, found)
        try:
            with self._store.lock(key, self.policy.lock_timeout, None if forced else ready):
                if found:
                    return found[0]
                entry = None if forced else (self._store.load(key, kind) or entry)
                if entry is not None and self.state(entry, window) is Freshness.FRESH:
                    return entry
                self._event("cache miss", key, state="stale" if entry else "absent")
                fresh = self._refresh(entry, window, fetch)
        except LockTimeout:
            if entry is not None and self.state(entry, window) is Freshness.STALE:
                _log.warning("another process is refreshing; serving cached %s", key.kind)
                return entry
            raise
        except CacheError as exc:  # taking the lock failed (throttled, unreachable): no cache
            self._store.drop(exc)
            fresh = self._refresh(entry, window, fetch)
        self._forced.add(key.kind)
        return fresh

    def _fresh_stored(
        self, key: CacheKey, kind: type[Entry], window: timedelta, found: list[Entry]
    ) -> Callable[[], bool]:
        """The lock's ``ready``: is a fresh entry stored now? It keeps what it found in
        ``found``, which the caller then serves (the second look of check-lock-check)."""

        def ready() -> bool:
            seen = self._store.load(key, kind)
            if seen is not None and self.state(seen, window) is Freshness.FRESH:
                found.append(seen)
            return bool(found)

        return ready

    def _event(self, event: str, key: CacheKey, **fields: object) -> None:
        backend = self._store.name
        extra = {"event": event, "backend": backend, "kind": key.kind, **fields}
        _log.info("%s: %s (%s cache)", event, key.kind, backend, extra=extra)

    def _refresh(self, old: Entry | None, window: timedelta, fetch: Callable[[], Entry]) -> Entry:
        started = time.monotonic()
        try:
            new = self._rotation.fetch(fetch)
        except ExchangeError as exc:
            if old is not None and self.state(old, window) is Freshness.STALE:
                _log.warning(
                    "refresh failed (%s); serving cached %s valid until %s",
                    exc,
                    "credentials" if isinstance(old, TemporaryCredentials) else "access token",
                    to_timestamp(old.expires_at),
                    extra={"event": "stale served", "kind": _kind(old)},
                )
                return old
            raise
        seconds = round(time.monotonic() - started, 3)
        extra = {"event": "exchange", "kind": _kind(new), "seconds": seconds}
        _log.info("exchange: new %s in %.3f s", _kind(new), seconds, extra=extra)
        self._save(new)
        return new

    def state(self, entry: AccessToken | TemporaryCredentials, window: timedelta) -> Freshness:
        """Fresh, stale or expired, now, by the rule of ``freshness`` with this broker's floors."""
        return freshness(
            entry.expires_at,
            entry.issued_at,
            entry.skew,
            window,
            self._clock(),
            **self._floors(entry),
        )

    def refresh_due(self, creds: TemporaryCredentials) -> float:
        """When (local epoch seconds) ``creds`` turn stale for this broker: an endpoint that
        holds them refreshes then, at the same point as ``process`` (``freshness.due_at``)."""
        return due_at(
            creds.expires_at.timestamp(),
            creds.issued_at.timestamp(),
            creds.skew.total_seconds(),
            self.policy.refresh_window.total_seconds(),
            **self._floors(creds),
        )

    def _floors(self, entry: AccessToken | TemporaryCredentials) -> dict[str, float]:
        """A token's window is at least 60 s, whatever its lifetime: a token is never handed out
        from the cache with less left. Credentials are refreshed at ``policy.min_left`` left
        when their lifetime is longer."""
        if isinstance(entry, TemporaryCredentials):
            return {"min_left": self.policy.min_left.total_seconds()}
        return {"min_window": TOKEN_WINDOW.total_seconds()}

    def _save(self, entry: AccessToken | TemporaryCredentials) -> None:
        key = self.token_key if isinstance(entry, AccessToken) else self.cred_key
        self._store.save(key, entry)

    def clear(self) -> int:
        """Remove this identity's entries; the number removed."""
        return self._store.delete([self.cred_key, self.token_key])

    def clear_all(self) -> int:
        """Remove every entry the cache holds, of every identity."""
        return self._store.delete(self._store.every_key())

    def entries(self) -> Iterator[EntryStatus]:
        """Every entry in each tier of the cache (another identity's shows as such, unopened)."""
        if self._store.cache is None:
            return
        yield from list_entries(self._store.cache, self._own_keys(), self._opened, self._clock)

    def _opened(self, key: CacheKey, tier: str, backend: CacheBackend) -> EntryStatus | None:
        """One of this broker's entries in ``backend``, opened and judged (``None``: it did not
        open)."""
        kind: type[Any] = AccessToken if key.kind == KIND_TOKEN else TemporaryCredentials
        entry = self._store.load(key, kind, backend)
        if entry is None:
            return None
        window = TOKEN_WINDOW if key.kind == KIND_TOKEN else self.policy.refresh_window
        state = self.state(entry, window).value
        return EntryStatus(key.kind, key.name, entry.expires_at, state, entry.skew, tier)


def _kind(entry: AccessToken | TemporaryCredentials) -> str:
    return KIND_TOKEN if isinstance(entry, AccessToken) else KIND_CREDENTIALS
