"""Unknown ``mdh_*`` keys in a profile: each named with the nearest known key, so a misspelt
``mdh_serviceaccount`` reads as a typo to fix, not as "mdh_service_account is not set"."""

from __future__ import annotations

from collections.abc import Iterable

from mdh_creds.settings.specs import SPECS

KNOWN_KEYS = frozenset(spec.key for spec in SPECS if spec.in_profile)
# botocore's own keys, sometimes written with our prefix (``mdh_region``).
_BOTOCORE_KEYS = ("region", "ca_bundle", "aws_account_id", "credential_process")
_NOTES = {"mdh_private_key": " (the key itself never goes in a config file)"}


def unknown_keys(keys: Iterable[str]) -> list[str]:
    """The ``mdh_*`` keys that name no setting, in the order given."""
    return [key for key in keys if key.startswith("mdh_") and key not in KNOWN_KEYS]


def nearest_key(key: str) -> str | None:
    """The key ``key`` most likely meant, or ``None`` when none is close."""
    import difflib

    if key[len("mdh_") :] in _BOTOCORE_KEYS:
        return key[len("mdh_") :]
    found = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1, cutoff=0.7)
    return found[0] if found else None


def unknown_key_warnings(keys: Iterable[str], where: str) -> list[str]:
    """One line per unknown key of the profile ``where``, naming the key to use instead."""
    lines = []
    for key in unknown_keys(keys):
        nearest = nearest_key(key)
        advice = f"did you mean {nearest}?" if nearest else "mdh-creds ignores it"
        lines.append(f"unknown key {key} in {where}: {advice}{_NOTES.get(key, '')}")
    return lines


_warned: set[str] = set()


def warn_unknown_keys(keys: Iterable[str], where: str) -> None:
    """Log each unknown key's warning once per process (the provider re-reads its profile)."""
    import logging

    for line in unknown_key_warnings(keys, where):
        if line not in _warned:
            _warned.add(line)
            logging.getLogger(__name__).warning("%s", line)


def nearest_profile(config_file: str, profile: str) -> str | None:
    """The profile of ``config_file`` that ``profile`` (absent from it) most likely meant."""
    import difflib

    from mdh_creds.errors import ConfigError
    from mdh_creds.settings.profiles import load_profiles

    try:
        names = [name for name in load_profiles(config_file) if name != profile]
    except ConfigError:
        return None
    found = difflib.get_close_matches(profile, names, n=1, cutoff=0.6)
    return found[0] if found else None
