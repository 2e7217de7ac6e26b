"""Wiring only: the one place that picks concrete adapters (account, exchange, cache) for a
``Settings`` and hands them to a ``CredentialBroker``.

Heavy modules (``mdh.client`` with requests and PyJWT, boto3 for DynamoDB or Secrets Manager,
keyring) are imported only when the chosen path needs them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from mdh_creds.aws.clients import aws_client
from mdh_creds.broker import CredentialBroker, Exchange, Policy
from mdh_creds.cache.backends import CacheBackend
from mdh_creds.clock import Clock, utc_now
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable
from mdh_creds.mdh.account import ClientAccount, Resolved, resolve, token_only_message
from mdh_creds.settings.model import Settings, default_cache_dir
from mdh_creds.settings.specs import AUTO_CHOICE_FILE, remembers_file_cache

_log = logging.getLogger(__name__)


def cache_folder(settings: Settings, environ: Mapping[str, str]) -> Path:
    return Path(settings.cache_dir) if settings.cache_dir else default_cache_dir(environ)


def select_cache(
    settings: Settings,
    environ: Mapping[str, str],
    clock: Clock = utc_now,
    lease_seconds: float | None = None,
    *,
    name: str | None = None,
    local_copies: bool = True,
) -> CacheBackend:
    """The backend called ``name`` (default: ``mdh_cache``, not ``auto``/``none``); raises
    ``CacheUnavailable`` when it cannot run here. A DynamoDB lease lasts at most
    ``lease.LEASE_SECONDS`` (its holder renews it while the exchange runs)."""
    from mdh_creds.cache import lease
    from mdh_creds.cache.backends import select

    budget = exchange_budget(settings) if lease_seconds is None else lease_seconds
    return select(
        name or settings.cache,
        folder=cache_folder(settings, environ),
        clock=clock,
        table=settings.dynamodb_table,
        lease_seconds=min(budget, lease.LEASE_SECONDS),
        local_copies=local_copies,
        dynamodb_client_factory=lambda: aws_client("dynamodb", settings, environ),
    )


def build_cache(
    settings: Settings, environ: Mapping[str, str], clock: Clock, lease_seconds: float
) -> CacheBackend | None:
    """The cache named by ``mdh_cache``; ``auto`` prefers a real keyring, else the file cache.
    A backend that cannot run costs one warning and no cache."""
    name = settings.cache
    if name == "none":
        return None
    if name == "auto":
        return _auto_cache(cache_folder(settings, environ), clock)
    try:
        return select_cache(settings, environ, clock, lease_seconds)
    except CacheUnavailable as exc:
        _log.warning("the %s cache is unavailable, continuing without a cache: %s", name, exc)
        return None


def _auto_cache(folder: Path, clock: Clock) -> CacheBackend | None:
    from mdh_creds.cache.backends import select

    choice = folder / AUTO_CHOICE_FILE
    if not remembers_file_cache(str(folder)):
        try:
            return select("keyring", folder=folder, clock=clock)
        except CacheUnavailable as exc:
            _log.debug("no usable keyring (%s); using the file cache", exc)
            _remember(choice, "file")
    try:
        return select("file", folder=folder, clock=clock)
    except CacheUnavailable as exc:
        _log.warning("the file cache is unavailable, continuing without a cache: %s", exc)
        return None


def _remember(path: Path, value: str) -> None:
    """Write the ``auto`` choice in the cache folder: only a folder of ours, never through a
    link planted in it (``write_atomic`` renames a new file over the name)."""
    from mdh_creds.cache.folder import prepare_folder
    from mdh_creds.persist import write_atomic

    try:
        prepare_folder(path.parent)
        write_atomic(path, (value + "\n").encode())
    except (OSError, CacheUnavailable) as exc:
        _log.debug("cannot remember the cache choice in %s: %s", path.parent, exc)


def exchange_budget(settings: Settings) -> float:
    """The longest one exchange (two bounded calls, ``mdh.retry.call_budget``) may take:
    locks and leases outlive it."""
    from mdh_creds.mdh.retry import Backoff, call_budget

    backoff = Backoff(settings.retries, settings.retry_interval_ms)
    return 2 * call_budget(settings.timeout, backoff) + 5.0


def build_broker(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
    http: Any = None,
    cache: CacheBackend | Literal["settings"] | None = "settings",
    force_refresh: bool = False,
    min_left: float = 0.0,
) -> CredentialBroker:
    """A broker for these settings; ``cache`` overrides the configured backend when given;
    ``min_left`` (seconds) is ``Policy.min_left``."""
    environ = os.environ if environ is None else environ
    resolved = resolve(settings, environ)
    budget = exchange_budget(resolved.settings)
    backend = (
        build_cache(resolved.settings, environ, clock, budget) if cache == "settings" else cache
    )
    window = timedelta(seconds=resolved.settings.refresh_window)
    return CredentialBroker(
        identity=resolved.identity,
        exchange=lambda: _exchange(resolved, clock, http),
        cache=backend,
        sealer=_sealer(resolved) if backend is not None else None,
        clock=clock,
        # A waiter may have to outlast a dead holder's whole lease before its own turn.
        policy=Policy(
            refresh_window=window,
            lock_timeout=2 * budget,
            force_refresh=force_refresh,
            min_left=timedelta(seconds=min_left),
        ),
        refuse_credentials=_refusal(resolved),
    )


def _exchange(resolved: Resolved | ClientAccount, clock: Clock, http: Any) -> Exchange:
    from mdh_creds.mdh.exchange import BoundExchange, ClientSecretExchange

    if isinstance(resolved, ClientAccount):
        return ClientSecretExchange(resolved, clock, http)
    return BoundExchange(resolved, clock, http)


def _sealer(resolved: Resolved | ClientAccount) -> Sealer:
    """Entries are sealed with a key derived from the private key, or from the client secret."""
    if isinstance(resolved, ClientAccount):
        return Sealer.for_client_secret(resolved.client_id, resolved.client_secret)
    return Sealer(resolved.key.der)


def _refusal(resolved: Resolved | ClientAccount) -> str | None:
    """A client-secret profile is asked for AWS credentials: the broker's one-line refusal."""
    return token_only_message(resolved.settings) if isinstance(resolved, ClientAccount) else None
