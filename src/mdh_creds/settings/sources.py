"""Where settings come from and which source wins: flag > environment (and an explicit ``.env``)
> profile key > default. Light: the cache-hit fast path reads its settings through these same
functions, so the two paths cannot disagree on precedence or validation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from mdh_creds.settings.specs import SPECS, Spec
from mdh_creds.settings.values import NotShown

# Variables with a suffix for their source: ("", the process environment) or (" in FILE", .env).
Layer = tuple[Mapping[str, str], str]


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


def config_file(environ: Mapping[str, str]) -> str:
    """``AWS_CONFIG_FILE``, else ``~/.aws/config``."""
    return os.path.expanduser(environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


def pick(
    spec: Spec,
    flags: Mapping[str, Any],
    layers: Sequence[Layer],
    profile_keys: Mapping[str, str],
    profile_origin: str,
) -> tuple[str | None, str]:
    """The text of one setting and where it came from (``None, "default"`` when unset)."""
    if flags.get(spec.name) is not None:
        return str(flags[spec.name]), f"flag {spec.flag}"
    for mapping, where in layers:
        for var in spec.env:
            if mapping.get(var):
                return mapping[var], f"{var}{where}"
    if spec.in_profile and profile_keys.get(spec.key):
        return profile_keys[spec.key], f"{spec.key} in {profile_origin}"
    return None, "default"


def read_value(spec: Spec, text: str | None, source: str) -> Any:
    """The value of ``text`` (the default when ``None``); ``ConfigError`` naming the setting and
    its source when it does not parse (a secret's text is never shown)."""
    if text is None:
        return spec.default
    try:
        return spec.parse(text)
    except ValueError as exc:
        from mdh_creds.errors import ConfigError

        shown = "" if spec.secret or isinstance(exc, NotShown) else f" = {text!r}"
        raise ConfigError(f"invalid {spec.key}{shown} (from {source}): {exc}") from None


def read_all(
    flags: Mapping[str, Any],
    layers: Sequence[Layer],
    profile_keys: Mapping[str, str],
    profile_origin: str,
) -> dict[str, tuple[Any, str]]:
    """Every setting: name -> (value, source), validated."""
    found: dict[str, tuple[Any, str]] = {}
    for spec in SPECS:
        text, source = pick(spec, flags, layers, profile_keys, profile_origin)
        found[spec.name] = (read_value(spec, text, source), source)
    return found
