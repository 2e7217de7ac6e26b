"""A role profile's chain read from the AWS config as botocore's ``AssumeRoleProvider`` reads it.

A profile with ``role_arn`` (and no ``web_identity_token_file``) assumes that role on the
credentials of its ``source_profile``, which may be a role profile itself, down to a root that
holds no ``role_arn``, or holds static keys (botocore then uses those). Per hop botocore reads
``role_arn``, ``role_session_name``, ``external_id``, ``duration_seconds`` (ignored unless an
integer) and ``mfa_serial``; no session tags and no source identity come from the config file.
``credential_source`` is botocore's (environment, container, instance metadata): such a chain
is not ours. A cycle, a missing source profile, and ``mfa_serial`` (mdh-creds cannot
prompt for a code) are configuration errors.

Light (no ``dataclasses``): the cache-hit fast path reads a chain and its entry's key with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

_STATIC_KEYS = ("aws_access_key_id", "aws_secret_access_key")
Profiles = Mapping[str, Mapping[str, str]]


class Hop(NamedTuple):
    """One AssumeRole of a chain: the profile that names it and what botocore sends."""

    profile: str
    role_arn: str
    role_session_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None

    def identity(self, source: str) -> dict[str, str]:
        """The identity of the credentials assumed on those of identity digest ``source``: the
        whole chain below is in it. No generated session name: botocore leaves it out of its
        cache key too."""
        return {
            "source": source,
            "role_arn": self.role_arn,
            "role_session_name": self.role_session_name or "",
            "external_id": self.external_id or "",
            "duration_seconds": "" if self.duration_seconds is None else str(self.duration_seconds),
        }

    def describe(self) -> str:
        return f"{self.role_arn} (profile {self.profile})"


class Chain(NamedTuple):
    """The root profile (whose credentials start the chain) and the hops, innermost first."""

    profile: str
    root: str
    hops: tuple[Hop, ...]

    def describe(self) -> list[str]:
        """One line per step, for ``status``: the root, then each role assumed."""
        return [f"profile {self.root}"] + [f"assume {hop.describe()}" for hop in self.hops]


def load_profiles(path: str) -> dict[str, dict[str, str]]:
    """Every profile of the AWS config file with its plain values, as botocore reads them."""
    import os

    from mdh_creds.settings.profiles import profile_sections, read_config

    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        from mdh_creds.errors import ConfigError

        raise ConfigError(f"cannot read the AWS config file {path}: {exc}") from None
    config = read_config(text, path)
    return {
        name: {k: v for k, v in config[section].items() if isinstance(v, str)}
        for name, section in profile_sections(config).items()
    }


def is_role_profile(keys: Mapping[str, str]) -> bool:
    """botocore's ``_has_assume_role_config_vars``."""
    return "role_arn" in keys and "web_identity_token_file" not in keys


def read_chain(profiles: Profiles, profile: str) -> Chain | None:
    """The chain of ``profile``, or ``None`` when it is not a role profile or its chain ends in
    botocore's own ``credential_source``. ``ConfigError`` for what botocore cannot resolve either,
    and for ``mfa_serial``."""
    keys = profiles.get(profile)
    if keys is None or not is_role_profile(keys):
        return None
    hops: list[Hop] = []
    visited = [profile]
    current = profile
    while True:
        keys = profiles[current]
        source = _source_of(current, keys)
        if source is None:  # credential_source: botocore's environment, container or IMDS
            return None
        hops.append(_hop(current, keys))
        _check_source(profiles, current, source, visited)
        visited.append(source)
        source_keys = profiles[source]
        if any(k in source_keys for k in _STATIC_KEYS) or not is_role_profile(source_keys):
            return Chain(profile, source, tuple(reversed(hops)))
        current = source


def _source_of(name: str, keys: Mapping[str, str]) -> str | None:
    from mdh_creds.errors import ConfigError

    source, sourcer = keys.get("source_profile"), keys.get("credential_source")
    if source is not None and sourcer is not None:
        raise ConfigError(
            f"profile {name} holds both source_profile and credential_source: keep one"
        )
    if source is None and sourcer is None:
        raise ConfigError(
            f"profile {name} has role_arn but neither source_profile nor credential_source: "
            "set source_profile to the mdh profile whose credentials assume the role"
        )
    return source


def _hop(name: str, keys: Mapping[str, str]) -> Hop:
    from mdh_creds.errors import ConfigError

    if keys.get("mfa_serial") is not None:
        raise ConfigError(
            f"profile {name} sets mfa_serial: mdh-creds cannot prompt for an MFA "
            "code; remove mfa_serial, or let the AWS CLI assume this role itself"
        )
    return Hop(
        profile=name,
        role_arn=keys["role_arn"],
        role_session_name=keys.get("role_session_name") or None,
        external_id=keys.get("external_id"),
        duration_seconds=_duration(keys.get("duration_seconds")),
    )


def _duration(text: str | None) -> int | None:
    """botocore's ``int(duration_seconds)``, a value that is not an integer ignored."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _check_source(profiles: Profiles, name: str, source: str, visited: list[str]) -> None:
    """botocore's ``_validate_source_profile``: the source exists; no loop (a profile may name
    itself only when it holds static keys, which then start the chain)."""
    from mdh_creds.errors import ConfigError

    if source not in profiles:
        raise ConfigError(
            f"profile {name} names source_profile {source}, which does not exist in the AWS "
            "config file"
        )
    if source not in visited:
        return
    if source == name and any(k in profiles[source] for k in _STATIC_KEYS):
        return
    loop = " -> ".join([*visited, source])
    raise ConfigError(f"the source_profile chain loops ({loop}): end it at an mdh profile")
