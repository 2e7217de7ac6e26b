"""Composition: the one place that picks concrete adapters for a ``Settings``.

Heavy modules (``mdh`` with requests and PyJWT, boto3 for DynamoDB or Secrets Manager, keyring)
are imported only when the chosen path needs them, so a file-cache hit loads none of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

from mdh_creds.broker import CredentialBroker, Exchange, Policy
from mdh_creds.cache import CacheBackend
from mdh_creds.clock import Clock, utc_now
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable, ConfigError
from mdh_creds.guard import inside
from mdh_creds.keys import PrivateKey, load_private_key_file, parse_private_key
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.settings import Settings, default_cache_dir
from mdh_creds.specs import AUTO_CHOICE_FILE, remembers_file_cache, resolve_exchange_url

LOCAL_ENDPOINT = "http://localhost:4566"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    """Settings completed from a secret, with the private key loaded (the key hidden)."""

    settings: Settings
    key: PrivateKey
    exchange_url: str
    service_account: str

    @property
    def identity(self) -> dict[str, str]:
        s = self.settings
        return {
            "service_account": self.service_account,
            "token_url": s.token_url,
            "exchange_url": self.exchange_url,
            "project": s.project_id or s.project_code or "",
            "scope": s.scope,
        }


def aws_client(service: str, settings: Settings, environ: Mapping[str, str]) -> Any:
    """A boto3 client for the plugin's own calls: never through the mdh profile itself.

    With no ``mdh_aws_profile`` the default chain is used; if that chain would resolve the mdh
    profile (``AWS_PROFILE`` names it), its ``credential_process`` provider is removed so the
    plugin cannot start itself; in process, the provider declines while ``inside()`` holds.
    """
    with inside():  # botocore resolves the client's credentials while creating it
        return _own_client(service, settings, environ)


def _own_client(service: str, settings: Settings, environ: Mapping[str, str]) -> Any:
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.Session(profile=settings.aws_profile)
    if settings.aws_profile is None and core.get_config_variable("profile") == settings.profile:
        resolver = core.get_component("credential_provider")
        for method in ("custom-process", "mdh"):  # botocore removes by METHOD, silently
            resolver.remove(method)
    session = boto3.Session(botocore_session=core)
    endpoint = None
    if settings.is_local and not environ.get("AWS_ENDPOINT_URL"):
        endpoint = LOCAL_ENDPOINT
    config = Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    region = session.region_name or "us-east-1"
    client: Any = session.client(
        cast(Any, service), region_name=region, endpoint_url=endpoint, config=config
    )
    return client


def resolve(settings: Settings, environ: Mapping[str, str]) -> Resolved:
    """Load the key (text, file or secret), fill settings from a secret, check what is required."""
    if not settings.is_mdh_profile:
        raise ConfigError(
            f"no MDH service account is configured for profile {settings.profile} "
            f"({settings.config_file}): set mdh_service_account and mdh_private_key_file there, "
            "or MDH_SERVICE_ACCOUNT and MDH_PRIVATE_KEY"
        )
    key: PrivateKey | None = None
    if settings.private_key:
        key = parse_private_key(settings.private_key, settings.source("private_key"))
    elif settings.private_key_file:
        key = load_private_key_file(settings.private_key_file, settings.source("private_key_file"))
    if settings.secret_id and (key is None or not settings.service_account):
        settings, key = _from_secret(settings, environ, key)
    if key is None:
        raise ConfigError(
            "no private key: set mdh_private_key_file in the profile, MDH_PRIVATE_KEY, "
            "or mdh_secret_id"
        )
    if not settings.service_account:
        raise ConfigError(
            f"mdh_service_account is not set: add it to profile {settings.profile} in "
            f"{settings.config_file} or set MDH_SERVICE_ACCOUNT"
        )
    return Resolved(settings, key, exchange_url_for(settings), settings.service_account)


def _from_secret(
    settings: Settings, environ: Mapping[str, str], key: PrivateKey | None
) -> tuple[Settings, PrivateKey | None]:
    from mdh_creds.keys import fetch_secret

    secret_id = str(settings.secret_id)
    bundle = fetch_secret(aws_client("secretsmanager", settings, environ), secret_id)
    filled = settings.with_values(
        f"secret {secret_id}",
        service_account=bundle.service_account,
        project_code=bundle.project_code,
        project_id=bundle.project_id,
    )
    return filled, key or bundle.private_key


def exchange_url_for(settings: Settings) -> str:
    """The explorer URL: explicit, else by project id (newer), else by project code (legacy)."""
    try:
        url = resolve_exchange_url(
            settings.exchange_url, settings.project_id, settings.project_code
        )
    except ValueError as exc:
        raise ConfigError(f"{exc} ({settings.source('exchange_url')})") from None
    if url is None:
        raise ConfigError(
            "no project: set mdh_project_code (legacy endpoint) or mdh_project_id "
            f"in profile {settings.profile} or the environment"
        )
    return url


class BoundExchange:
    """The MDH exchange bound to one resolved identity (implements ``broker.Exchange``)."""

    def __init__(self, resolved: Resolved, clock: Clock, http: Any = None) -> None:
        import requests

        from mdh_creds.mdh import MdhClient
        from mdh_creds.retry import Backoff

        s = resolved.settings
        self._resolved = resolved
        self.client = MdhClient(
            http if http is not None else requests.Session(),
            timeout=s.timeout,
            backoff=Backoff(s.retries, s.retry_interval_ms),
            clock=clock,
        )

    def fetch_access_token(self) -> AccessToken:
        r, s = self._resolved, self._resolved.settings
        return self.client.fetch_access_token(r.service_account, r.key, s.token_url, s.scope)

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials:
        s = self._resolved.settings
        return self.client.fetch_credentials(token, self._resolved.exchange_url, s.project_code)


def cache_folder(settings: Settings, environ: Mapping[str, str]) -> Path:
    return Path(settings.cache_dir) if settings.cache_dir else default_cache_dir(environ)


def select_cache(
    settings: Settings,
    environ: Mapping[str, str],
    clock: Clock = utc_now,
    lease_seconds: float | None = None,
    name: str | None = None,
) -> CacheBackend:
    """The backend called ``name`` (default: ``mdh_cache``, not ``auto``/``none``); raises
    ``CacheUnavailable`` when it cannot run here."""
    from mdh_creds.cache import select

    return select(
        name or settings.cache,
        folder=cache_folder(settings, environ),
        clock=clock,
        table=settings.dynamodb_table,
        lease_seconds=exchange_budget(settings) if lease_seconds is None else lease_seconds,
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
    from mdh_creds.cache import select

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
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(value + "\n")
    except OSError:
        pass


def exchange_budget(settings: Settings) -> float:
    """The longest one exchange may take with every retry: locks and leases outlive it."""
    attempts = settings.retries + 1
    backoff = settings.retry_interval_ms / 1000.0 * (2**settings.retries) * 1.5
    return float(2 * attempts * settings.timeout + min(backoff, 30.0) * settings.retries + 5.0)


def build_broker(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
    http: Any = None,
    cache: CacheBackend | Literal["settings"] | None = "settings",
    force_refresh: bool = False,
) -> CredentialBroker:
    """A broker for these settings; ``cache`` overrides the configured backend when given."""
    environ = os.environ if environ is None else environ
    resolved = resolve(settings, environ)
    budget = exchange_budget(resolved.settings)
    backend = (
        build_cache(resolved.settings, environ, clock, budget) if cache == "settings" else cache
    )
    exchange: Callable[[], Exchange] = lambda: BoundExchange(resolved, clock, http)  # noqa: E731
    window = timedelta(seconds=resolved.settings.refresh_window)
    return CredentialBroker(
        identity=resolved.identity,
        exchange=exchange,
        cache=backend,
        sealer=Sealer(resolved.key.der) if backend is not None else None,
        clock=clock,
        # A waiter may have to outlast a dead holder's whole lease before its own turn.
        policy=Policy(refresh_window=window, lock_timeout=2 * budget, force_refresh=force_refresh),
    )
