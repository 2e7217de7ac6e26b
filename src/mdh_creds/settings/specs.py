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
AUTO_CHOICE_FILE = "auto-cache"  # in the cache folder: "file" once no keyring answered
AUTO_RECHECK = 86_400  # seconds before mdh_cache=auto looks for a keyring again
CACHE_CHOICES = ("auto", "keyring", "file", "dynamodb", "memory", "none")
CLIENT_AUTH_CHOICES = ("basic", "post")  # RFC 6749 2.3.1: HTTP Basic, or in the form body


class Spec:
    """One setting: its name, where it may come from, and how its text becomes a value.

    (A plain class: a NamedTuple costs a millisecond to define, and this module is on the
    cache-hit path.)
    """

    __slots__ = ("default", "env", "in_profile", "name", "parse", "secret")

    def __init__(
        self,
        name: str,
        env: tuple[str, ...],
        parse: Callable[[str], Any],
        default: Any = None,
        *,
        in_profile: bool = True,
        secret: bool = False,
    ) -> None:
        self.name, self.env, self.parse, self.default = name, env, parse, default
        self.in_profile, self.secret = in_profile, secret

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
    # The client-secret grant (the older token SDK's flow); generic aliases after MDH_* names.
    Spec("client_id", ("MDH_CLIENT_ID", "CONSUMER_KEY"), values.parse_printable),
    Spec(
        "client_secret",
        ("MDH_CLIENT_SECRET", "CONSUMER_SECRET"),
        values.parse_printable,
        in_profile=False,
        secret=True,
    ),
    Spec("client_auth", ("MDH_CLIENT_AUTH",), values.choice(CLIENT_AUTH_CHOICES), "basic"),
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


def remembers_file_cache(folder: str) -> bool:
    """True while ``mdh_cache=auto`` recently found no keyring and settled on the file cache."""
    import time

    choice = os.path.join(folder, AUTO_CHOICE_FILE)
    try:
        with open(choice, encoding="utf-8") as handle:
            remembered = handle.read().strip()
        recent = time.time() - os.stat(choice).st_mtime < AUTO_RECHECK
    except OSError:
        return False
    return remembered == "file" and recent
