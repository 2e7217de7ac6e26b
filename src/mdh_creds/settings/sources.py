"""Where settings come from and which source wins: flag > environment (and an explicit ``.env``)
> profile key > the older tools' generic variables (``URL``...) > default. Light: the cache-hit
fast path reads its settings through these same functions, so the two paths cannot disagree on
precedence or validation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from mdh_creds.settings.specs import SPEC_BY_NAME, SPECS, Spec
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


def profile_region(environ: Mapping[str, str], profile_keys: Mapping[str, str]) -> str | None:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the profile's ``region``."""
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    return region or profile_keys.get("region") or None


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
    """The text of one setting and where it came from (``None, "default"`` when unset):
    flag > variable > profile key > generic alias (``URL``, ``SCOPE``...) > default."""
    if flags.get(spec.name) is not None:
        return str(flags[spec.name]), f"flag {spec.flag}"
    found = _variable(spec.env, layers)
    if found is None and spec.in_profile and profile_keys.get(spec.key):
        found = profile_keys[spec.key], f"{spec.key} in {profile_origin}"
    return found or _variable(spec.aliases, layers) or (None, "default")


def _variable(names: Sequence[str], layers: Sequence[Layer]) -> tuple[str, str] | None:
    for mapping, where in layers:
        for var in names:
            if mapping.get(var):
                return mapping[var], f"{var}{where}"
    return None


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
    """Every setting: name -> (value, source), validated; the generic variables of the kind the
    profile is not dropped (``settle_kind``)."""
    found: dict[str, tuple[Any, str]] = {}
    for spec in SPECS:
        text, source = pick(spec, flags, layers, profile_keys, profile_origin)
        if spec.name in CLIENT_SETTINGS and from_alias(spec.name, source):
            found[spec.name] = (text, source)  # parsed below, unless another kind drops it
            continue
        found[spec.name] = (read_value(spec, text, source), source)
    settle_kind(found, profile_keys, profile_origin)
    for name in CLIENT_SETTINGS:
        value, source = found[name]
        if from_alias(name, source):
            found[name] = (read_value(SPEC_BY_NAME[name], value, source), source)
    return found


#: The settings that make a service account, and those that make an API client (DESIGN 2.3).
ACCOUNT_SETTINGS = ("service_account", "private_key", "private_key_file")
CLIENT_SETTINGS = ("client_id", "client_secret")


def from_alias(name: str, source: str) -> bool:
    """True when the value of ``name`` came from one of the older tools' generic variables."""
    return source.split(" ", 1)[0] in SPEC_BY_NAME[name].aliases


def settle_kind(
    found: dict[str, tuple[Any, str]], profile_keys: Mapping[str, str], origin: str
) -> None:
    """A profile's kind is decided by the profile first, then by flags and ``MDH_*`` variables;
    for a service account, the generic ``CONSUMER_KEY``/``CONSUMER_SECRET`` (which the older
    token SDK's users export for their own tools) are ignored, with a debug line."""
    if _kind(found, profile_keys) != "account":
        return
    for name in CLIENT_SETTINGS:
        value, source = found[name]
        if value is not None and from_alias(name, source):
            found[name] = (None, "default")
            _debug(f"{source} ignored: {origin} names a service account, not an API client")


def _kind(found: Mapping[str, tuple[Any, str]], profile_keys: Mapping[str, str]) -> str | None:
    """``account``, ``client`` or ``None`` (undecided, or both: the account resolver says so)."""
    account = any(profile_keys.get(SPEC_BY_NAME[n].key) for n in ACCOUNT_SETTINGS)
    client = any(profile_keys.get(SPEC_BY_NAME[n].key) for n in CLIENT_SETTINGS)
    if account == client:  # the profile does not decide: an explicit account name may
        account = _explicit(found["service_account"])
        client = any(_explicit(found[n]) for n in CLIENT_SETTINGS)
    if account == client:
        return None
    return "account" if account else "client"


def _explicit(setting: tuple[Any, str]) -> bool:
    value, source = setting
    name_of_source = source.split(" ", 1)[0]
    generic = any(name_of_source in spec.aliases for spec in SPECS)
    return value is not None and source != "default" and not generic


def _debug(message: str) -> None:
    import logging  # only when a variable is dropped: the hit path stays free of logging

    logging.getLogger(__name__).debug(message)
