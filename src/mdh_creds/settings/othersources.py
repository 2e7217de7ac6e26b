"""The keys by which a profile already gets AWS credentials some other way (SSO, a role, web
identity, ``aws login``, static keys, someone else's ``credential_process``). ``configure``
refuses to write into such a profile (the AWS CLI's ``aws login`` refuses one too): botocore
would use the other source, or ignore ours, and the failure would name neither."""

from __future__ import annotations

from collections.abc import Callable, Mapping

#: Keys (or, ending in ``*``, key prefixes) that make a profile another credential source.
SOURCE_KEYS = (
    "sso_*",
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
    "login_session",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
)


def other_source_keys(keys: Mapping[str, str], own_command: Callable[[str], bool]) -> list[str]:
    """The keys of ``keys`` (one profile) that hold another credential source, in file order.

    A ``credential_process`` that is not mdh-creds (``own_command`` false) counts only in a
    profile with no ``mdh_*`` key: beside them it is taken for a wrapper of mdh-creds and kept."""
    found = [key for key in keys if any(_matches(key, pattern) for pattern in SOURCE_KEYS)]
    process = keys.get("credential_process")
    mdh_profile = any(key.startswith("mdh_") for key in keys)
    if process and not own_command(process) and not mdh_profile:
        found.append("credential_process")
    return found


def _matches(key: str, pattern: str) -> bool:
    return key.startswith(pattern[:-1]) if pattern.endswith("*") else key == pattern


def refuse_other_source(
    keys: Mapping[str, str], profile: str, origin: str, own_command: Callable[[str], bool]
) -> None:
    """``ConfigError`` naming the first key by which ``profile`` gets credentials otherwise."""
    found = other_source_keys(keys, own_command)
    if not found:
        return
    from mdh_creds.errors import ConfigError

    what = "someone else's credential_process" if found[0] == "credential_process" else found[0]
    raise ConfigError(
        f"profile {profile} in {origin} already gets AWS credentials another way ({what}): "
        "nothing was written; configure another profile (--profile NAME; mdh-creds uses mdh "
        "by default), or write into this one anyway with --force"
    )
