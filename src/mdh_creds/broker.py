"""CredentialBroker: check, lock, check again, exchange, seal, save. It does no I/O itself.

Entries are judged fresh, stale or expired (DESIGN section 5). A stale entry whose refresh fails is
served with a warning; an expired one is refreshed or the error is raised. A cache that breaks at
run time is dropped with one warning and the exchange goes on without it. An access token is
handed out from the cache only with more than 60 seconds left (its window never shrinks with its
lifetime, as the credentials' does); a broker for an API client (``refuse_credentials``) serves
tokens only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from mdh_creds.cache.backends import CacheBackend
from mdh_creds.cache.stored import KIND_CREDENTIALS, KIND_TOKEN, CacheKey
from mdh_creds.clock import Clock, to_timestamp, utc_now
from mdh_creds.crypto import Sealer
from mdh_creds.errors import (
    CacheError,
    ConfigError,
    ExchangeError,
    ExchangeRejected,
    LockTimeout,
    MdhCredsError,
)
from mdh_creds.freshness import Freshness, due_at, freshness
from mdh_creds.models import AccessToken, TemporaryCredentials

TOKEN_WINDOW = timedelta(seconds=60)
_log = logging.getLogger(__name__)
Entry = TypeVar("Entry", AccessToken, TemporaryCredentials)


class Exchange(Protocol):
    """The two MDH calls, bound to one identity (``mdh.py`` through the factory)."""

    def fetch_access_token(self) -> AccessToken: ...

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials: ...


class Source(Protocol):
    """AWS credentials got with no MDH token: a role assumed on another profile's credentials,
    the output of a wrapped ``credential_process``. Its failures are ``ExchangeError``s, so a
    stale entry is served through them as through a failed exchange."""

    def fetch_credentials(self) -> TemporaryCredentials: ...


#: Reads the account's secret again: a new exchange factory and sealer when it holds another key
#: (rotated), else ``None``.
Reload = Callable[[], "tuple[Callable[[], Exchange], Sealer] | None"]


@dataclass(frozen=True)
class Policy:
    """How the broker judges and waits."""

    refresh_window: timedelta = timedelta(seconds=1200)
    lock_timeout: float = 60.0
    force_refresh: bool = False
    # Credentials with a longer lifetime are refreshed once this much is left, whatever the
    # window (``freshness.SDK_MIN_LEFT`` for what is handed to an SDK: process, the endpoint).
    min_left: timedelta = timedelta(0)


@dataclass(frozen=True)
class EntryStatus:
    """What ``status`` shows of one cached entry (no secret)."""

    kind: str
    name: str
    expires_at: datetime | None
    state: str
    skew: timedelta | None = None  # server minus local, measured when the entry was fetched
    tier: str = ""


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
        self._exchange_factory, self._exchange_obj = exchange, None
        self._source = source
        self._reload = reload
        self._refusal = refuse_credentials
        self._cache, self._sealer, self._clock = cache, sealer, clock
        self.policy = policy or Policy()
        self.cred_key = CacheKey.for_identity(identity, KIND_CREDENTIALS)
        self.token_key = CacheKey.for_identity(identity, KIND_TOKEN)
        self._forced: set[str] = set()
        self._token_fetches = 0
        self._below: CredentialBroker | None = None  # the broker ``on_source`` was called on

    @property
    def cache(self) -> CacheBackend | None:
        return self._cache

    def on_source(
        self, identity: dict[str, str], source: Source, policy: Policy | None = None
    ) -> CredentialBroker:
        """A broker for the credentials ``source`` yields (a role assumed on these), kept in
        this broker's cache under ``identity``, sealed by its sealer, single-flighted by its
        locks; it makes no MDH call."""
        broker = CredentialBroker(
            identity=identity,
            exchange=_no_exchange,
            cache=self._cache,
            sealer=self._sealer,
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

    def _exchange(self) -> Exchange:
        if self._exchange_obj is None:
            self._exchange_obj = self._exchange_factory()  # type: ignore[assignment]
        return self._exchange_obj  # type: ignore[return-value]

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
        return self._exchange().fetch_access_token()

    def _fetch_credentials(self) -> TemporaryCredentials:
        if self._source is not None:
            return self._source.fetch_credentials()
        fetches = self._token_fetches
        token = self.get_access_token()
        try:
            return self._exchange().fetch_credentials(token)
        except ExchangeRejected as exc:
            if exc.status != 401 or self._token_fetches != fetches:
                raise
        # A cached token the explorer refuses (revoked, or the server restarted): drop it and
        # try once more with a new one rather than failing until it expires.
        _log.debug("the explorer refused the cached access token; fetching a new one")
        token = self._fetch_token()
        self._save(token)
        return self._exchange().fetch_credentials(token)

    def _serve(
        self, key: CacheKey, kind: type[Entry], window: timedelta, fetch: Callable[[], Entry]
    ) -> Entry:
        forced = self.policy.force_refresh and key.kind not in self._forced
        entry = None if forced else self._load(key, kind)
        if entry is not None and self.state(entry, window) is Freshness.FRESH:
            self._event("cache hit", key)
            return entry
        found: list[Entry] = []  # what ``ready`` saw, when a waiter returned without the lock
        ready = self._fresh_stored(key, kind, window, found)
        try:
            with self._lock(key, None if forced else ready):
                if found:
                    return found[0]
                entry = None if forced else (self._load(key, kind) or entry)
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
            self._drop_cache(exc)
            fresh = self._refresh(entry, window, fetch)
        self._forced.add(key.kind)
        return fresh

    def _fresh_stored(
        self, key: CacheKey, kind: type[Entry], window: timedelta, found: list[Entry]
    ) -> Callable[[], bool]:
        """The lock's ``ready``: is a fresh entry stored now? It keeps what it found in
        ``found``, which the caller then serves (the second look of check-lock-check)."""

        def ready() -> bool:
            seen = self._load(key, kind)
            if seen is not None and self.state(seen, window) is Freshness.FRESH:
                found.append(seen)
            return bool(found)

        return ready

    def _event(self, event: str, key: CacheKey, **fields: object) -> None:
        backend = self._cache.name if self._cache is not None else "none"
        extra = {"event": event, "backend": backend, "kind": key.kind, **fields}
        _log.info("%s: %s (%s cache)", event, key.kind, backend, extra=extra)

    def _refresh(self, old: Entry | None, window: timedelta, fetch: Callable[[], Entry]) -> Entry:
        started = time.monotonic()
        try:
            new = self._fetch_rotating(fetch)
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

    def _fetch_rotating(self, fetch: Callable[[], Entry]) -> Entry:
        """``fetch``; when MDH refuses it, the secret is read again once, and if it holds a new
        key (rotated since it was read), ``fetch`` runs once more with it."""
        try:
            return fetch()
        except ExchangeRejected:
            if not self._reloaded():
                raise
        return fetch()

    def _reloaded(self) -> bool:
        """Read the account's secret again; ``True`` when it held a new key, now in use."""
        if self._reload is None:
            return False
        try:
            renewed = self._reload()
        except MdhCredsError as exc:
            _log.debug("the secret could not be read again: %s", exc)
            return False
        if renewed is None:
            return False
        self._exchange_factory, self._exchange_obj = renewed[0], None
        if self._sealer is not None:
            self._sealer = renewed[1]
        _log.info(
            "MDH refused the key read from the secret; the secret holds a new one: retrying",
            extra={"event": "rotation"},
        )
        return True

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

    @contextmanager
    def _lock(self, key: CacheKey, ready: Callable[[], bool] | None) -> Iterator[None]:
        """Hold the entry's lock (a backend may let a waiter in early once ``ready`` says a fresh
        entry is stored); a lock that cannot be taken at all (an unusable lock folder, a
        throttled lease) drops the cache with one warning, as any broken backend does. A
        timeout is raised."""
        held = ExitStack()
        if self._cache is not None:
            try:
                held.enter_context(self._cache.lock(key, self.policy.lock_timeout, ready))
            except LockTimeout:
                raise
            except CacheError as exc:
                self._drop_cache(exc)
        with held:
            yield

    def _load(
        self, key: CacheKey, kind: type[Entry], tier: CacheBackend | None = None
    ) -> Entry | None:
        cache = tier or self._cache
        if cache is None or self._sealer is None:
            return None
        try:
            sealed = cache.load(key)
        except CacheError as exc:
            self._drop_cache(exc)
            return None
        entry = _parse(kind, self._sealer.open(key, sealed), key)
        check = getattr(cache, "check", None)  # a shared table judges what it holds
        if tier is None and sealed is not None and callable(check):
            check(key, None if entry is None else entry.local_expires_at.timestamp())
        return entry

    def _save(self, entry: AccessToken | TemporaryCredentials) -> None:
        if self._cache is None or self._sealer is None:
            return
        key = self.token_key if isinstance(entry, AccessToken) else self.cred_key
        try:
            # Backends judge expiry by the local clock; the entry's times are the server's.
            sealed = self._sealer.seal(key, entry.to_payload())
            self._cache.save(key, sealed, entry.local_expires_at)
        except CacheError as exc:
            self._drop_cache(exc)

    def _drop_cache(self, exc: CacheError) -> None:
        _log.warning("cache unavailable, continuing without it: %s", exc)
        self._cache = None

    def clear(self) -> int:
        """Remove this identity's entries; the number removed."""
        return self._delete([self.cred_key, self.token_key])

    def clear_all(self) -> int:
        """Remove every entry the cache holds, of every identity."""
        if self._cache is None:
            return 0
        return self._delete(list(self._cache.list_keys()))

    def _delete(self, keys: list[CacheKey]) -> int:
        removed = 0
        for key in keys:
            if self._cache is not None and self._cache.load(key) is not None:
                removed += 1
            if self._cache is not None:
                self._cache.delete(key)
        return removed

    def entries(self) -> Iterator[EntryStatus]:
        """Every entry in each tier of the cache (another identity's shows as such, unopened)."""
        if self._cache is None:
            return
        tiers = getattr(self._cache, "tiers", None)  # a DynamoDB cache with its local copies
        for tier, backend in tiers() if callable(tiers) else [(self._cache.name, self._cache)]:
            for key in backend.list_keys():
                yield self._entry_status(key, tier, backend)

    def _entry_status(self, key: CacheKey, tier: str, backend: CacheBackend) -> EntryStatus:
        kind: type[Any] = AccessToken if key.kind == KIND_TOKEN else TemporaryCredentials
        own = key in self._own_keys()
        entry = self._load(key, kind, backend) if own else None
        if entry is None:
            return self._closed_status(key, tier, backend, own)
        window = TOKEN_WINDOW if key.kind == KIND_TOKEN else self.policy.refresh_window
        state = self.state(entry, window).value
        return EntryStatus(key.kind, key.name, entry.expires_at, state, entry.skew, tier)

    def _closed_status(
        self, key: CacheKey, tier: str, backend: CacheBackend, own: bool
    ) -> EntryStatus:
        """An entry that did not open: another identity's, past its stored expiry (which the
        backends' ``load`` treats as absent), or unreadable."""
        if not own:
            return EntryStatus(key.kind, key.name, None, "other identity", tier=tier)
        expiry = getattr(backend, "expiry", None)
        try:
            expires = expiry(key) if callable(expiry) else None
        except CacheError:
            expires = None
        if expires is None or self._clock().timestamp() < expires:
            return EntryStatus(key.kind, key.name, None, "unreadable", tier=tier)
        expired_at = datetime.fromtimestamp(expires, timezone.utc)
        return EntryStatus(key.kind, key.name, expired_at, "expired", tier=tier)


def _no_exchange() -> Exchange:
    raise ConfigError(
        "a role profile holds AWS credentials only: ask its mdh profile for the MDH access token"
    )


def _kind(entry: AccessToken | TemporaryCredentials) -> str:
    return KIND_TOKEN if isinstance(entry, AccessToken) else KIND_CREDENTIALS


def _parse(kind: type[Entry], payload: dict[str, Any] | None, key: CacheKey) -> Entry | None:
    if payload is None:
        return None
    try:
        return kind.from_payload(payload)
    except (KeyError, ValueError, TypeError):
        _log.debug("cache entry %s does not parse, treated as a miss", key.name)
        return None
