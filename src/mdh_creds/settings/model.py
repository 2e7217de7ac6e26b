"""``Settings``: every setting with the source it came from, read from flags, the environment, an
explicit .env file and the AWS config profile (precedence and validation in ``sources``).

Each value keeps where it came from, so an error can say which setting to fix and where. botocore
is not imported: the profile is read by ``profiles`` with configparser's line rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from mdh_creds.errors import ConfigError
from mdh_creds.settings import specs, values
from mdh_creds.settings.profiles import load_profile
from mdh_creds.settings.sources import (
    Layer,
    config_file,
    profile_region,
    read_all,
    select_profile,
)
from mdh_creds.settings.specs import SPEC_BY_NAME
from mdh_creds.settings.typos import warn_unknown_keys


@dataclass(frozen=True)
class Setting:
    """A value and where it came from (``flag --retries``, ``MDH_RETRIES``, ``default``...)."""

    name: str
    value: Any
    source: str
    secret: bool = False

    def __repr__(self) -> str:
        return f"Setting({self.name!r}, {self.shown()!r}, source={self.source!r})"

    def shown(self) -> str:
        """The value for humans: secrets masked."""
        if self.value is None:
            return "(not set)"
        return "****" if self.secret else str(self.value)


@dataclass(frozen=True)
class Settings:
    """Every setting with its source, plus the profile and config file they were read from."""

    profile: str
    config_file: Path
    profile_found: bool
    items: dict[str, Setting] = field(repr=False)
    is_local: bool = False
    region: str | None = None
    account_id: str | None = None  # botocore's aws_account_id in the profile

    @property
    def service_account(self) -> str | None:
        return cast("str | None", self.items["service_account"].value)

    @property
    def private_key(self) -> str | None:
        return cast("str | None", self.items["private_key"].value)

    @property
    def private_key_file(self) -> Path | None:
        value = self.items["private_key_file"].value
        return None if value is None else Path(value)

    @property
    def private_key_passphrase(self) -> str | None:
        return cast("str | None", self.items["private_key_passphrase"].value)

    @property
    def private_key_keyring(self) -> str | None:
        return cast("str | None", self.items["private_key_keyring"].value)

    @property
    def kms_key_id(self) -> str | None:
        return cast("str | None", self.items["kms_key_id"].value)

    @property
    def secret_id(self) -> str | None:
        return cast("str | None", self.items["secret_id"].value)

    @property
    def client_id(self) -> str | None:
        return cast("str | None", self.items["client_id"].value)

    @property
    def client_secret(self) -> str | None:
        return cast("str | None", self.items["client_secret"].value)

    @property
    def client_auth(self) -> str:
        return cast("str", self.items["client_auth"].value)

    @property
    def project_code(self) -> str | None:
        return cast("str | None", self.items["project_code"].value)

    @property
    def project_id(self) -> str | None:
        return cast("str | None", self.items["project_id"].value)

    @property
    def token_url(self) -> str:
        return cast("str", self.items["token_url"].value)

    @property
    def scope(self) -> str:
        return cast("str", self.items["scope"].value)

    @property
    def exchange_url(self) -> str | None:
        return cast("str | None", self.items["exchange_url"].value)

    @property
    def retries(self) -> int:
        return cast("int", self.items["retries"].value)

    @property
    def retry_interval_ms(self) -> int:
        return cast("int", self.items["retry_interval_ms"].value)

    @property
    def timeout(self) -> float:
        return cast("float", self.items["timeout"].value)

    @property
    def cache(self) -> str:
        return cast("str", self.items["cache"].value)

    @property
    def cache_dir(self) -> Path | None:
        value = self.items["cache_dir"].value
        return None if value is None else Path(value)

    @property
    def dynamodb_table(self) -> str:
        return cast("str", self.items["dynamodb_table"].value)

    @property
    def refresh_window(self) -> int:
        return cast("int", self.items["refresh_window"].value)

    @property
    def aws_profile(self) -> str | None:
        return cast("str | None", self.items["aws_profile"].value)

    @property
    def ca_bundle(self) -> str | None:
        return cast("str | None", self.items["ca_bundle"].value)

    def cache_folder(self, environ: Mapping[str, str]) -> Path:
        """The cache folder: ``mdh_cache_dir``, else the platform's default."""
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir(environ)

    def source(self, name: str) -> str:
        return self.items[name].source

    def with_values(self, source: str, **new: Any) -> Settings:
        """A copy where ``new`` fills settings that are still unset (e.g. from a secret)."""
        items = dict(self.items)
        for name, value in new.items():
            if value is not None and items[name].value is None:
                items[name] = Setting(name, value, source, SPEC_BY_NAME[name].secret)
        return replace(self, items=items)

    @property
    def is_mdh_profile(self) -> bool:
        """True when anything identifies an MDH service account or an API client (what makes
        the provider act)."""
        return any(
            self.items[name].value is not None and self.items[name].source != "default"
            for name in (
                "service_account",
                "secret_id",
                "private_key",
                "private_key_file",
                "private_key_keyring",
                "kms_key_id",
                "client_id",
                "client_secret",
            )
        )


def load_env_file(path: Path) -> dict[str, str]:
    """Variables of an explicitly named .env file (never read implicitly from the cwd)."""
    if not path.is_file():
        raise ConfigError(f"the .env file {path} does not exist (from --env-file or MDH_ENV_FILE)")
    from dotenv import dotenv_values

    try:
        loaded = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the .env file {path}: {type(exc).__name__}") from None
    return {key: value for key, value in loaded.items() if value is not None}


def parse_settings(
    environ: Mapping[str, str],
    flags: Mapping[str, Any] | None = None,
    profile_keys: Mapping[str, str] | None = None,
    *,
    warn_unknown: bool = True,
) -> Settings:
    """Every setting from flags, environment, optional .env file and the AWS config profile.

    ``profile_keys`` overrides reading the config file (for callers that already hold them).
    Unknown ``mdh_*`` keys in the profile are logged as warnings unless ``warn_unknown`` is off
    (``status`` reports them itself).
    """
    flags = dict(flags or {})
    env_file = flags.get("env_file") or environ.get("MDH_ENV_FILE")
    layers: list[Layer] = [(environ, "")]
    if env_file:
        env_path = Path(str(env_file)).expanduser()
        layers.append((load_env_file(env_path), f" in {env_path}"))
    profile = select_profile(flags, environ)
    path = config_file_path(environ)
    found = profile_keys is not None
    if profile_keys is None:
        loaded = load_profile(str(path), profile)
        found, profile_keys = loaded is not None, loaded or {}
    origin = f"profile {profile} of {path}"
    if warn_unknown:
        warn_unknown_keys(profile_keys, origin)
    items = {
        name: Setting(name, value, source, SPEC_BY_NAME[name].secret)
        for name, (value, source) in read_all(flags, layers, profile_keys, origin).items()
    }
    is_local = _is_local(layers)
    region = profile_region(environ, profile_keys)
    account_id = _account_id(profile_keys.get("aws_account_id"), origin)
    return Settings(profile, path, found, items, is_local, region, account_id)


def _account_id(text: str | None, origin: str) -> str | None:
    if not text:
        return None
    try:
        return values.parse_account_id(text)
    except ValueError as exc:
        raise ConfigError(f"invalid aws_account_id = {text!r} (from {origin}): {exc}") from None


def _is_local(layers: list[Layer]) -> bool:
    """``IS_LOCAL`` (the older token SDK's LocalStack switch), from the environment or the .env."""
    text = next((m["IS_LOCAL"] for m, _ in layers if m.get("IS_LOCAL")), "")
    return text.strip().lower() in ("1", "true", "yes")


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/mdh-creds``, else ``~/.cache/mdh-creds`` (Windows: LOCALAPPDATA)."""
    return Path(specs.default_cache_dir(environ))


def config_file_path(environ: Mapping[str, str]) -> Path:
    """``AWS_CONFIG_FILE``, else ``~/.aws/config``."""
    return Path(config_file(environ))
