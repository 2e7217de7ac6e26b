"""Is a profile a role chained on an mdh profile? Its chain and the root's settings, or why not.

The root is ours when it is an mdh profile as the provider judges one: a profile that gets its
credentials elsewhere (static keys, ``credential_process``, SSO, web identity) and holds no
``mdh_*`` key is botocore's, even when ``MDH_*`` variables are set. Only the root's ``mdh_*``
keys count: a role profile of the chain that holds some is warned about, once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mdh_creds.errors import ConfigError
from mdh_creds.roles.chain import Chain, Profiles, is_role_profile, load_profiles, read_chain
from mdh_creds.settings.model import Settings, config_file_path, parse_settings

_log = logging.getLogger(__name__)
_warned: set[str] = set()  # each warning once per process (the provider resolves again)
_FOREIGN_KEYS = (
    "aws_access_key_id",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
)


def profiles_of(session: Any, environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The profiles a botocore ``session`` sees (plain values only), else the config file's."""
    if session is None:
        return load_profiles(str(config_file_path(environ)))
    found = session.full_config.get("profiles", {})
    return {
        str(name): {str(k): v for k, v in keys.items() if isinstance(v, str)}
        for name, keys in found.items()
        if isinstance(keys, dict)
    }


def chain_for(
    profiles: Profiles,
    profile: str,
    environ: Mapping[str, str],
    flags: Mapping[str, Any],
    required: bool,
) -> tuple[Chain, Settings] | None:
    """The chain of role profile ``profile`` and its root's settings (``flags`` apply to the
    root), or ``None`` when it is not a role profile or its root is not an mdh profile; with
    ``required`` the latter is a ``ConfigError`` that says what to do instead."""
    keys = profiles.get(profile)
    if keys is None or not is_role_profile(keys):
        return None
    chain = read_chain(profiles, profile)
    if chain is None:
        _refuse(profile, "takes its source credentials from credential_source", required)
        return None
    root_keys = profiles[chain.root]
    settings = parse_settings(environ, {**flags, "profile": chain.root}, root_keys)
    if _is_mdh_root(settings, root_keys):
        for line in hop_key_warnings(profiles, chain):
            if line not in _warned:
                _warned.add(line)
                _log.warning("%s", line)
        return chain, settings
    _refuse(profile, f"starts at profile {chain.root}, which is not an mdh profile", required)
    return None


def _is_mdh_root(settings: Settings, keys: Mapping[str, str]) -> bool:
    if any(k.startswith("mdh_") for k in keys):
        return settings.is_mdh_profile
    return not any(k in keys for k in _FOREIGN_KEYS) and settings.is_mdh_profile


def _refuse(profile: str, why: str, required: bool) -> None:
    if required:
        raise ConfigError(
            f"role profile {profile} {why}: mdh-creds serves role chains that start at an mdh "
            "profile; let the AWS CLI or SDK resolve this profile itself"
        )


def settings_chain(
    settings: Settings, environ: Mapping[str, str], flags: Mapping[str, Any]
) -> tuple[Chain, Settings] | None:
    """``chain_for`` the profile ``settings`` were read for, from their config file (a role
    profile that cannot be served: ``ConfigError``)."""
    profiles = load_profiles(str(settings.config_file))
    return chain_for(profiles, settings.profile, environ, flags, required=True)


def hop_key_warnings(profiles: Profiles, chain: Chain) -> list[str]:
    """One line per role profile of ``chain`` that holds ``mdh_*`` keys, which are ignored:
    the settings of a chain are its root's."""
    lines = []
    for hop in chain.hops:
        keys = sorted(k for k in profiles.get(hop.profile, {}) if k.startswith("mdh_"))
        if keys:
            lines.append(
                f"profile {hop.profile} is a role (role_arn, source_profile) and holds "
                f"{', '.join(keys)}, which are ignored: mdh_* keys count only in the chain's "
                f"root, profile {chain.root}; move them there or remove them"
            )
    return lines


def reported_hop_key_warnings(config_file: str, profile: str) -> list[str]:
    """``hop_key_warnings`` of ``profile``'s chain in ``config_file``, for a command that shows
    them itself (``status``): they are not logged afterwards. None when there is no chain or it
    cannot be read (the command reports that)."""
    from mdh_creds.errors import MdhCredsError

    try:
        profiles = load_profiles(config_file)
        chain = read_chain(profiles, profile)
    except MdhCredsError:
        return []
    lines = hop_key_warnings(profiles, chain) if chain is not None else []
    _warned.update(lines)
    return lines
