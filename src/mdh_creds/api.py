"""``get_credentials`` and ``get_access_token``: the broker for a profile, from Python."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mdh_creds.broker import CredentialBroker
from mdh_creds.factory import build_broker, build_chain_broker
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.roles.resolve import settings_chain
from mdh_creds.settings.model import parse_settings
from mdh_creds.settings.specs import SPEC_BY_NAME


def override_flags(profile: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Python keyword overrides as the flags ``parse_settings`` takes (they rank like flags)."""
    unknown = set(overrides) - set(SPEC_BY_NAME)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    flags: dict[str, Any] = {k: str(v) for k, v in overrides.items() if v is not None}
    if profile:
        flags["profile"] = profile
    return flags


def broker_for(
    profile_name: str | None = None,
    *,
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> CredentialBroker:
    """A broker for ``profile_name``; ``overrides`` take setting names (``cache="file"``...)."""
    flags = override_flags(profile_name, overrides)
    if env_file:
        flags["env_file"] = os.fspath(env_file)
    environ = os.environ if environ is None else environ
    settings = parse_settings(environ, flags)
    chained = settings_chain(settings, environ, flags)  # a role chained on an mdh profile
    if chained is not None:
        return build_chain_broker(*chained, environ=environ)
    return build_broker(settings, environ=environ)


def get_credentials(profile_name: str | None = None, **overrides: Any) -> TemporaryCredentials:
    """Temporary AWS credentials for the profile, from the cache or one MDH exchange."""
    return broker_for(profile_name, **overrides).get_credentials()


def get_access_token(profile_name: str | None = None, **overrides: Any) -> AccessToken:
    """The access token for the profile, cached like the credentials, with more than 60 s left
    when served from the cache: the MDH REST API's, or an API client's (client id and secret)."""
    return broker_for(profile_name, **overrides).get_access_token()
