"""Read every setting from flags, the environment, an explicit .env file and the AWS config profile.

Precedence: command-line flag > environment variable > profile key > default. Each value keeps
where it came from, so an error can say which setting to fix and where. Values are validated when
read. botocore is not imported: the profile is read with ``configparser``.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from mdh_creds import values
from mdh_creds.errors import ConfigError

DEFAULT_TOKEN_URL = "https://designer.mydatahelps.org/identityserver/connect/token"
LEGACY_EXCHANGE_URL = "https://api.explorer.mydatahelps.org/token"
DESIGNER_EXCHANGE_URL = (
    "https://api.designer.mydatahelps.org/projects/{project_id}/export-explorer/token"
)
CACHE_CHOICES = ("auto", "keyring", "file", "dynamodb", "memory", "none")


@dataclass(frozen=True)
class Spec:
    """One setting: its name, where it may come from, and how its text becomes a value."""

    name: str
    env: tuple[str, ...]
    parse: Callable[[str], Any]
    default: Any = None
    in_profile: bool = True
    secret: bool = False

    @property
    def key(self) -> str:
        return f"mdh_{self.name}"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SPECS: tuple[Spec, ...] = (
    Spec("service_account", ("MDH_SERVICE_ACCOUNT", "RKS_SERVICE_ACCOUNT"), values.parse_text),
    Spec(
        "private_key",
        ("MDH_PRIVATE_KEY", "RKS_PRIVATE_KEY"),
        values.parse_text,
        in_profile=False,
        secret=True,
    ),
    Spec("private_key_file", ("MDH_PRIVATE_KEY_FILE",), values.parse_path),
    Spec("secret_id", ("MDH_SECRET_ID", "SECRET_NAME"), values.parse_text),
    Spec("project_code", ("MDH_PROJECT_CODE", "RKS_PROJECT_CODE"), values.parse_header_value),
    Spec("project_id", ("MDH_PROJECT_ID", "RKS_PROJECT_ID"), values.parse_path_segment),
    Spec("token_url", ("MDH_TOKEN_URL", "URL"), values.parse_url, DEFAULT_TOKEN_URL),
    Spec("scope", ("MDH_SCOPE", "SCOPE"), values.parse_text, "api"),
    Spec("exchange_url", ("MDH_EXCHANGE_URL",), values.parse_url_template),
    Spec("retries", ("MDH_RETRIES", "RETRIES"), values.bounded_int(0, 10), 2),
    Spec(
        "retry_interval_ms",
        ("MDH_RETRY_INTERVAL_MS", "INTERVAL"),
        values.bounded_int(0, 60_000),
        500,
    ),
    Spec("timeout", ("MDH_TIMEOUT",), values.bounded_float(0.1, 300.0), 10.0),
    Spec("cache", ("MDH_CACHE",), values.choice(CACHE_CHOICES), "auto"),
    Spec("cache_dir", ("MDH_CACHE_DIR",), values.parse_path),
    Spec("dynamodb_table", ("MDH_DYNAMODB_TABLE",), values.parse_table_name, "mdh-creds-cache"),
    Spec("refresh_window", ("MDH_REFRESH_WINDOW",), values.bounded_int(0, 43_200), 1200),
    Spec("aws_profile", ("MDH_AWS_PROFILE",), values.parse_text),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Setting:
    """A value and where it came from (``flag --retries``, ``MDH_RETRIES``, ``default``...)."""

    name: str
    value: Any
    source: str
    secret: bool = False

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

    @property
    def service_account(self) -> str | None:
        return cast("str | None", self.items["service_account"].value)

    @property
    def private_key(self) -> str | None:
        return cast("str | None", self.items["private_key"].value)

    @property
    def private_key_file(self) -> Path | None:
        return cast("Path | None", self.items["private_key_file"].value)

    @property
    def secret_id(self) -> str | None:
        return cast("str | None", self.items["secret_id"].value)

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
        return cast("Path | None", self.items["cache_dir"].value)

    @property
    def dynamodb_table(self) -> str:
        return cast("str", self.items["dynamodb_table"].value)

    @property
    def refresh_window(self) -> int:
        return cast("int", self.items["refresh_window"].value)

    @property
    def aws_profile(self) -> str | None:
        return cast("str | None", self.items["aws_profile"].value)

    def source(self, name: str) -> str:
        return self.items[name].source

    def with_values(self, source: str, **new: Any) -> Settings:
        """A copy where ``new`` fills settings that are still unset (e.g. from a secret)."""
        items = dict(self.items)
        for name, value in new.items():
            if value is not None and items[name].value is None:
                items[name] = Setting(name, value, source, SPEC_BY_NAME[name].secret)
        return Settings(
            self.profile, self.config_file, self.profile_found, items, self.is_local, self.region
        )

    @property
    def is_mdh_profile(self) -> bool:
        """True when anything identifies an MDH service account (what makes the provider act)."""
        return any(
            self.items[name].value is not None and self.items[name].source != "default"
            for name in ("service_account", "secret_id", "private_key", "private_key_file")
        )


def select_profile(flags: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """``--profile``, else ``AWS_PROFILE``, else ``AWS_DEFAULT_PROFILE``, else ``default``."""
    for candidate in (
        flags.get("profile"),
        environ.get("AWS_PROFILE"),
        environ.get("AWS_DEFAULT_PROFILE"),
    ):
        if candidate:
            return str(candidate)
    return "default"


def config_file_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()


def load_profile(path: Path, profile: str) -> dict[str, str] | None:
    """The keys of ``[profile NAME]`` (or ``[default]``) in an AWS config file; None if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the AWS config file {path}: {exc}") from exc
    return parse_profile(text, profile, origin=str(path))


def parse_profile(text: str, profile: str, *, origin: str = "AWS config") -> dict[str, str] | None:
    """Like botocore: ``[profile X]`` names profile X and ``[default]`` the default profile."""
    parser = configparser.RawConfigParser(strict=False, default_section="\x00none")
    try:
        parser.read_string(text, source=origin)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"the AWS config file {origin} cannot be parsed: {first}") from exc
    names = [f"profile {profile}"] + (["default"] if profile == "default" else [])
    for section in names:
        if parser.has_section(section):
            return {key.strip(): value.strip() for key, value in parser.items(section)}
    return None


def load_env_file(path: Path) -> dict[str, str]:
    """Variables of an explicitly named .env file (never read implicitly from the cwd)."""
    if not path.is_file():
        raise ConfigError(f"the .env file {path} does not exist (from --env-file or MDH_ENV_FILE)")
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def _pick(
    spec: Spec,
    flags: Mapping[str, Any],
    layers: list[tuple[Mapping[str, str], str]],
    profile_keys: Mapping[str, str],
    profile_origin: str,
) -> tuple[str | None, str]:
    if flags.get(spec.name) is not None:
        return str(flags[spec.name]), f"flag {spec.flag}"
    for mapping, where in layers:
        for var in spec.env:
            if mapping.get(var):
                return mapping[var], f"{var}{where}"
    if spec.in_profile and profile_keys.get(spec.key):
        return profile_keys[spec.key], f"{spec.key} in {profile_origin}"
    return None, "default"


def _read(spec: Spec, text: str | None, source: str) -> Setting:
    if text is None:
        return Setting(spec.name, spec.default, "default", spec.secret)
    try:
        value = spec.parse(text)
    except ValueError as exc:
        shown = "" if spec.secret else f" = {text!r}"
        raise ConfigError(f"invalid {spec.key}{shown} (from {source}): {exc}") from None
    return Setting(spec.name, value, source, spec.secret)


def parse_settings(
    environ: Mapping[str, str],
    flags: Mapping[str, Any] | None = None,
    profile_keys: Mapping[str, str] | None = None,
) -> Settings:
    """Every setting from flags, environment, optional .env file and the AWS config profile.

    ``profile_keys`` overrides reading the config file (for callers that already hold them).
    """
    flags = dict(flags or {})
    env_file = flags.get("env_file") or environ.get("MDH_ENV_FILE")
    layers: list[tuple[Mapping[str, str], str]] = [(environ, "")]
    if env_file:
        env_path = Path(str(env_file)).expanduser()
        layers.append((load_env_file(env_path), f" in {env_path}"))
    profile = select_profile(flags, environ)
    path = config_file_path(environ)
    found = profile_keys is not None
    if profile_keys is None:
        loaded = load_profile(path, profile)
        found, profile_keys = loaded is not None, loaded or {}
    origin = f"profile {profile} of {path}"
    items = {
        spec.name: _read(spec, *_pick(spec, flags, layers, profile_keys, origin)) for spec in SPECS
    }
    is_local = (environ.get("IS_LOCAL") or "").strip().lower() in ("1", "true", "yes")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    region = region or profile_keys.get("region") or None
    return Settings(profile, path, found, items, is_local, region)


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/mdh-creds``, else ``~/.cache/mdh-creds`` (Windows: LOCALAPPDATA)."""
    base = environ.get("XDG_CACHE_HOME")
    if not base and os.name == "nt":
        base = environ.get("LOCALAPPDATA")
    return Path(base or "~/.cache").expanduser() / "mdh-creds"
