"""The service account a ``Settings`` names, made whole: settings completed from a Secrets
Manager secret, the private key loaded, the explorer URL chosen, and the identity of its entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mdh_creds.cache.stored import identity
from mdh_creds.errors import ConfigError
from mdh_creds.mdh.keys import PrivateKey, load_private_key_file, parse_private_key
from mdh_creds.settings.model import Settings
from mdh_creds.settings.specs import resolve_exchange_url


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
        return identity(
            service_account=self.service_account,
            token_url=s.token_url,
            exchange_url=self.exchange_url,
            project_id=s.project_id,
            project_code=s.project_code,
            scope=s.scope,
        )


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
    from mdh_creds.aws.clients import aws_client
    from mdh_creds.aws.secrets import fetch_secret

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
        raise ConfigError(f"{exc} ({settings.source('exchange_url')})") from exc
    if url is None:
        raise ConfigError(
            "no project: set mdh_project_code (legacy endpoint) or mdh_project_id "
            f"in profile {settings.profile} or the environment"
        )
    return url
