"""The table of settings: names, environment variables (with the older tools' aliases), parsers,
defaults; and the rule that picks the explorer URL. Light: the cache-hit fast path imports it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from mdh_creds.settings import values

DEFAULT_TOKEN_URL = "https://designer.mydatahelps.org/identityserver/connect/token"
LEGACY_EXCHANGE_URL = "https://api.explorer.mydatahelps.org/token"
DESIGNER_EXCHANGE_URL = (
    "https://api.designer.mydatahelps.org/projects/{project_id}/export-explorer/token"
)
GUARD_VARIABLE = "MDH_CREDS_OWN_AWS_CALL"  # aws/guard.py: set for what `process` starts
CACHE_CHOICES = ("auto", "keyring", "file", "dynamodb", "memory", "none")
CLIENT_AUTH_CHOICES = ("basic", "post")  # RFC 6749 2.3.1: HTTP Basic, or in the form body


class Spec:
    """One setting: its name, where it may come from, and how its text becomes a value.

    ``env`` variables outrank the profile key; ``aliases`` (the older tools' generic names, such
    as ``URL``, which many tools export for their own use) rank below it, so they never redirect
    a signed assertion that a profile sends elsewhere (DESIGN 4). ``key`` is the profile key,
    ``mdh_<name>`` unless the key is botocore's own (``ca_bundle``).

    (A plain class: a NamedTuple costs a millisecond to define, and this module is on the
    cache-hit path.)
    """

    __slots__ = (
        "aliases",
        "default",
        "env",
        "in_profile",
        "is_path",
        "key",
        "name",
        "parse",
        "secret",
    )

    def __init__(
        self,
        name: str,
        env: tuple[str, ...],
        parse: Callable[[str], Any],
        default: Any = None,
        *,
        aliases: tuple[str, ...] = (),
        key: str | None = None,
        in_profile: bool = True,
        secret: bool = False,
    ) -> None:
        self.name, self.env, self.default = name, env, default
        self.aliases, self.key = aliases, key or f"mdh_{name}"
        self.is_path = parse is values.parse_path
        what = "path" if self.is_path else "value"
        # Every setting but a secret refuses a pasted key, unechoed (DESIGN 6).
        self.parse = parse if secret else values.refusing_keys(parse, what)
        self.in_profile, self.secret = in_profile, secret

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
    # Three ways to keep the key off disk (DESIGN 2): its passphrase (never in a config file),
    # the key itself in the OS keyring (the entry's name), or a KMS key that signs.
    Spec(
        "private_key_passphrase",
        ("MDH_PRIVATE_KEY_PASSPHRASE",),
        values.parse_passphrase,
        in_profile=False,
        secret=True,
    ),
    Spec("private_key_keyring", ("MDH_PRIVATE_KEY_KEYRING",), values.parse_printable),
    Spec("kms_key_id", ("MDH_KMS_KEY_ID",), values.parse_kms_key_id),
    Spec("secret_id", ("MDH_SECRET_ID",), values.parse_text, aliases=("SECRET_NAME",)),
    # The client-secret grant (the older token SDK's flow).
    Spec("client_id", ("MDH_CLIENT_ID",), values.parse_printable, aliases=("CONSUMER_KEY",)),
    Spec(
        "client_secret",
        ("MDH_CLIENT_SECRET",),
        values.parse_printable,
        aliases=("CONSUMER_SECRET",),
        in_profile=False,
        secret=True,
    ),
    Spec("client_auth", ("MDH_CLIENT_AUTH",), values.choice(CLIENT_AUTH_CHOICES), "basic"),
    Spec("project_code", ("MDH_PROJECT_CODE", "RKS_PROJECT_CODE"), values.parse_header_value),
    Spec("project_id", ("MDH_PROJECT_ID", "RKS_PROJECT_ID"), values.parse_path_segment),
    Spec("token_url", ("MDH_TOKEN_URL",), values.parse_url, DEFAULT_TOKEN_URL, aliases=("URL",)),
    Spec("scope", ("MDH_SCOPE",), values.parse_text, "api", aliases=("SCOPE",)),
    Spec("exchange_url", ("MDH_EXCHANGE_URL",), values.parse_url_template),
    Spec("retries", ("MDH_RETRIES",), values.bounded_int(0, 10), 2, aliases=("RETRIES",)),
    Spec(
        "retry_interval_ms",
        ("MDH_RETRY_INTERVAL_MS",),
        values.bounded_int(0, 60_000),
        500,
        aliases=("INTERVAL",),
    ),
    Spec("timeout", ("MDH_TIMEOUT",), values.bounded_float(0.1, 300.0), 10.0),
    Spec("cache", ("MDH_CACHE",), values.choice(CACHE_CHOICES), "auto"),
    Spec("cache_dir", ("MDH_CACHE_DIR",), values.parse_path),
    Spec("dynamodb_table", ("MDH_DYNAMODB_TABLE",), values.parse_table_name, "mdh-creds-cache"),
    Spec("refresh_window", ("MDH_REFRESH_WINDOW",), values.bounded_int(0, 43_200), 1200),
    Spec("aws_profile", ("MDH_AWS_PROFILE",), values.parse_text),
    # What the AWS CLI honours behind TLS interception; requests' own variables rank below.
    Spec(
        "ca_bundle",
        ("AWS_CA_BUNDLE",),
        values.parse_ca_bundle,
        aliases=("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
        key="ca_bundle",
    ),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


def resolve_exchange_url(
    exchange_url: str | None, project_id: str | None, project_code: str | None
) -> str | None:
    """Explicit URL (``{project_id}`` filled), else by project id (newer), else by project code
    (legacy); ``None`` when there is no project. Raises ``ValueError`` for a template with no id."""
    url = exchange_url
    if url is None:
        if project_id:
            url = DESIGNER_EXCHANGE_URL
        elif project_code:
            url = LEGACY_EXCHANGE_URL
        else:
            return None
    if "{project_id}" in url:
        if not project_id:
            raise ValueError("mdh_exchange_url holds {project_id} but mdh_project_id is not set")
        url = url.replace("{project_id}", project_id)
    return url


def default_cache_dir(environ: Mapping[str, str]) -> str:
    """``$XDG_CACHE_HOME/mdh-creds``, else ``~/.cache/mdh-creds`` (Windows: LOCALAPPDATA)."""
    base = environ.get("XDG_CACHE_HOME")
    if not base and os.name == "nt":
        base = environ.get("LOCALAPPDATA")
    return os.path.join(os.path.expanduser(base or "~/.cache"), "mdh-creds")
