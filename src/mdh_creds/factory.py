"""Wiring only: the one place that picks concrete adapters (account, exchange, cache) for a
``Settings`` and hands them to a ``CredentialBroker``.

Heavy modules (``mdh.client`` with requests and PyJWT, boto3 for DynamoDB or Secrets Manager,
keyring) are imported only when the chosen path needs them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from mdh_creds.aws.clients import aws_client
from mdh_creds.broker import CredentialBroker, Exchange, Policy, Reload
from mdh_creds.cache.backends import CacheBackend
from mdh_creds.clock import Clock, utc_now
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable
from mdh_creds.mdh.account import Account, resolve
from mdh_creds.mdh.keystore import Prompt
from mdh_creds.roles.chain import Chain
from mdh_creds.settings.model import Settings

_log = logging.getLogger(__name__)


def cache_folder(settings: Settings, environ: Mapping[str, str]) -> Path:
    return settings.cache_folder(environ)


def select_cache(
    settings: Settings,
    environ: Mapping[str, str],
    clock: Clock = utc_now,
    lease_seconds: float | None = None,
    *,
    name: str | None = None,
    local_copies: bool = True,
) -> CacheBackend:
    """The backend called ``name`` (default: ``mdh_cache``; not ``none``); raises
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
        environ=environ,
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
    try:
        return select_cache(settings, environ, clock, lease_seconds)
    except CacheUnavailable as exc:
        _log.warning("the %s cache is unavailable, continuing without a cache: %s", name, exc)
        return None


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
    prompt: Prompt | None = None,
) -> CredentialBroker:
    """A broker for these settings; ``cache`` overrides the configured backend when given;
    ``min_left`` (seconds) is ``Policy.min_left``; ``prompt`` may ask for a key's passphrase
    on a terminal (``configure`` and ``status`` only)."""
    environ = os.environ if environ is None else environ
    account = resolve(settings, environ, prompt=prompt)
    budget = exchange_budget(account.settings)
    backend = (
        build_cache(account.settings, environ, clock, budget) if cache == "settings" else cache
    )
    if backend is not None:  # a hit of this machine then needs no Secrets Manager call
        account.remember(cache_folder(account.settings, environ), environ)
    window = timedelta(seconds=account.settings.refresh_window)
    return CredentialBroker(
        identity=account.identity,
        exchange=lambda: account.exchange(clock, http),
        cache=backend,
        sealer=account.sealer() if backend is not None else None,
        clock=clock,
        # A waiter may have to outlast a dead holder's whole lease before its own turn.
        policy=Policy(
            refresh_window=window,
            lock_timeout=2 * budget,
            force_refresh=force_refresh,
            min_left=timedelta(seconds=min_left),
        ),
        refuse_credentials=account.refusal,
        reload=_reloader(settings, environ, clock, http, account),
    )


def _reloader(
    settings: Settings, environ: Mapping[str, str], clock: Clock, http: Any, account: Account
) -> Reload | None:
    """For an account read from Secrets Manager: what reads the secret again when MDH refuses
    its key (a rotation), giving the new key's exchange and sealer (``None`` when unchanged, or
    when the secret now names another account: that is a new identity, not a rotation)."""
    if settings.secret_id is None:
        return None
    current = [account]

    def reload() -> tuple[Callable[[], Exchange], Sealer] | None:
        fresh = resolve(settings, environ, fresh_secret=True)
        if fresh.identity != current[0].identity or fresh.same_secret(current[0]):
            return None
        current[0] = fresh
        return (lambda: fresh.exchange(clock, http)), fresh.sealer()

    return reload


def build_chain_broker(
    chain: Chain,
    root_settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
    cache: CacheBackend | Literal["settings"] | None = "settings",
    force_refresh: bool = False,
    min_left: float = 0.0,
) -> CredentialBroker:
    """The broker of a role chain's last hop. Each hop's broker assumes its role on the
    credentials of the broker below (the root's is ``build_broker``'s), all in the root's cache
    under keys of the whole chain so far, sealed with the root's sealer. ``force_refresh`` and
    ``min_left`` apply to the last hop (what is handed out)."""
    from mdh_creds.roles.sts import AssumeRoleSource, sts_client_factory

    broker = build_broker(root_settings, environ=environ, clock=clock, cache=cache)
    client_factory = sts_client_factory(chain.profile, root_settings.timeout, environ)
    for depth, hop in enumerate(chain.hops, start=1):
        last = depth == len(chain.hops)
        policy = Policy(
            refresh_window=broker.policy.refresh_window,
            # A waiter may outlast every hop below, each as long as the one before.
            lock_timeout=broker.policy.lock_timeout + exchange_budget(root_settings),
            force_refresh=force_refresh and last,
            min_left=timedelta(seconds=min_left if last else 0.0),
        )
        identity = hop.identity(broker.cred_key.digest)
        source = AssumeRoleSource(hop, broker.get_credentials, client_factory, clock)
        broker = broker.on_source(identity, source, policy)
    return broker
