"""``mdh-creds configure``: write the mdh profile into the AWS config file and clear its way.

The profile: ``--profile``, else ``AWS_PROFILE`` as ``aws configure`` takes it, else ``mdh``
(``[default]`` only when named). One that gets credentials another way (SSO, a role, ...) is
refused unless ``--force`` (``settings.othersources``). It sets ``credential_process`` (the
absolute command of this mdh-creds, so the AWS CLI finds it from any folder and ``PATH``),
``region`` and the ``mdh_*`` keys given as flags in ``[profile P]`` (every value checked first,
paths made absolute, the key file read; nothing is written when one is bad), warns about unknown
``mdh_*`` keys and about static keys for the same profile in the shared credentials file, which
botocore prefers to ``credential_process``, removes them with ``--migrate`` (after a backup),
creates the DynamoDB cache table with ``--create-table`` (``cli.tablesetup``), with
``--lookup-account-id`` asks STS once, with freshly minted credentials, for the account id it
writes as ``aws_account_id``, and names the next command to run. The steps that keep the key off
disk (``--kms-key-id``, ``--store-passphrase``, ``--key-to-keyring``) are ``cli.keysetup``'s.
Summaries go to stderr; stdout stays empty but for the public key of a KMS key, the PEM to
register in MDH's console.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdh_creds.cli import keysetup
from mdh_creds.cli.context import Context
from mdh_creds.cli.launcher import is_own_command, process_command
from mdh_creds.errors import ConfigError, MdhCredsError
from mdh_creds.settings import awsconfig, values
from mdh_creds.settings.model import Settings, config_file_path, parse_settings
from mdh_creds.settings.othersources import other_source_keys, refuse_other_source
from mdh_creds.settings.profiles import parse_profile, profile_section
from mdh_creds.settings.sources import select_profile
from mdh_creds.settings.specs import SPECS
from mdh_creds.settings.typos import unknown_key_warnings

_NAME_FORBIDDEN = frozenset("[]'\"\\")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
DEFAULT_REGION = "us-east-1"  # where the MDH Export Explorer's data lives
PROCESS_KEY = "credential_process"
DEFAULT_PROFILE = "mdh"  # never [default] unless named: it may hold the user's own credentials


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        default=None,
        help=f"the profile's AWS region (default: the one it has, else {DEFAULT_REGION})",
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        default=None,
        help="remove static keys for the profile from the credentials file (a backup is kept)",
    )
    parser.add_argument(
        "--create-table",
        action="store_true",
        default=None,
        help="create the DynamoDB cache table (idempotent)",
    )
    parser.add_argument(
        "--lookup-account-id",
        action="store_true",
        default=None,
        help="find the account id (one STS GetCallerIdentity) and write it as aws_account_id",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        default=None,
        help="write into a profile that gets credentials another way (SSO, a role, web "
        "identity, aws login, static keys, another credential_process); refused without it",
    )
    keysetup.add_arguments(parser)


def run(ctx: Context) -> int:
    profile = configure_profile(ctx.flags, ctx.environ)
    check_profile_name(profile)
    _refuse_other_source(ctx, profile, force=bool(ctx.flags.get("force")))
    wanted = setting_values(ctx.flags)
    key = keysetup.check_key_file(ctx, profile, wanted.get("mdh_private_key_file"))
    region = parse_region(ctx.flags.get("region"))
    shadowing = awsconfig.find_shadowing_keys(ctx.environ, profile)
    config = config_file_path(ctx.environ)
    moved = keysetup.move_key(ctx, profile, wanted, key)
    drop = ("mdh_private_key_file",) if moved else ()
    changed, keys = write_profile(config, profile, wanted, region, drop=drop)
    verb = "wrote" if changed else "kept (already up to date)"
    ctx.stderr.write(f"mdh-creds: {verb} profile {profile} in {config}\n")
    keysetup.after_profile_written(ctx, profile, wanted, moved)
    for line in unknown_key_warnings(keys, f"profile {profile} of {config}"):
        ctx.stderr.write(f"mdh-creds: warning: {line}\n")
    _handle_static_keys(ctx, profile, shadowing)
    if ctx.flags.get("create_table"):
        from mdh_creds.cli.tablesetup import create_table

        create_table(ctx, profile)
    if ctx.flags.get("lookup_account_id"):
        _write_account_id(ctx, profile, config)
    ctx.stderr.write(f"mdh-creds: {next_step(ctx, profile, keys)}\n")
    return 0


def configure_profile(flags: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """``--profile``, else ``AWS_PROFILE`` (then ``AWS_DEFAULT_PROFILE``), as ``aws configure``
    chooses, else ``mdh``: ``default`` only when ``--profile default`` names it."""
    if flags.get("profile"):
        return str(flags["profile"])
    named = select_profile({}, environ)
    return named if named != "default" else DEFAULT_PROFILE


def _refuse_other_source(ctx: Context, profile: str, *, force: bool) -> None:
    """Exit 3 for a profile that gets credentials another way; with ``--force``, a warning."""
    config = config_file_path(ctx.environ)
    keys = parse_profile(awsconfig.read_text(config) or "", profile, origin=str(config)) or {}
    if not force:
        refuse_other_source(keys, profile, str(config), is_own_command)
    elif found := [k for k in other_source_keys(keys, is_own_command) if k != PROCESS_KEY]:
        ctx.say(
            f"--force: profile {profile} keeps {', '.join(found)}: botocore may take its "
            "credentials from those, not from mdh-creds (remove them by hand)",
            level="warning",
        )


def check_profile_name(profile: str) -> None:
    """Refuse names that cannot be a section header or a ``--profile`` word of a command line."""
    if not profile or any(
        ch in _NAME_FORBIDDEN or ch.isspace() or not ch.isprintable() for ch in profile
    ):
        raise ConfigError(
            f"invalid profile name {profile!r}: it must not be empty nor hold spaces, "
            "brackets, quotes, backslashes or control characters"
        )


def setting_values(flags: Mapping[str, Any]) -> dict[str, str]:
    """``mdh_<name>`` -> text for each setting flag given, checked by the setting's parser."""
    found: dict[str, str] = {}
    for spec in SPECS:
        if not spec.in_profile or flags.get(spec.name) is None:
            continue
        text = str(flags[spec.name]).strip()
        try:
            spec.parse(text)  # first: it refuses a pasted key without echoing it
            if any(not ch.isprintable() for ch in text):
                raise ValueError("it must be one line of printable characters")
        except ValueError as exc:
            shown = "" if isinstance(exc, values.NotShown) else f" = {text!r}"
            raise ConfigError(f"invalid {spec.key}{shown} (from flag {spec.flag}): {exc}") from None
        if spec.is_path:  # the profile must work from any folder
            text = os.path.abspath(spec.parse(text))
        found[spec.key] = text
    return found


def parse_region(text: str | None) -> str | None:
    if text is None:
        return None
    region = text.strip()
    if not _REGION.match(region):
        raise ConfigError(f"invalid --region {text!r}: an AWS region looks like {DEFAULT_REGION}")
    return region


def section_name(text: str, profile: str, origin: str) -> str:
    """The section botocore reads the profile from (``[profile  P]`` and ``[profile "P"]``
    included; of two, the later), else a new ``[profile P]`` (``[default]`` for default).
    ``ConfigError`` when botocore would refuse the file: nothing is written then."""
    found = profile_section(text, profile, origin=origin)
    if found is not None:
        return found
    return "default" if profile == "default" else f"profile {profile}"


def write_profile(
    config: Path,
    profile: str,
    wanted: Mapping[str, str],
    region: str | None = None,
    *,
    drop: tuple[str, ...] = (),
) -> tuple[bool, dict[str, str]]:
    """Set ``wanted`` in the profile, with this mdh-creds as its ``credential_process`` (a
    command of someone else's beside ``mdh_*`` keys, a wrapper, is kept) and a region;
    ``(changed, the profile's keys after)``.
    An API client's profile (``mdh_client_id``) gets no ``credential_process``: it holds a
    token, not AWS credentials."""
    old = awsconfig.read_text(config)
    text = old or ""
    current = parse_profile(text, profile, origin=str(config)) or {}
    keys: dict[str, str] = {}
    existing = current.get("credential_process")
    api_client = "mdh_client_id" in wanted or "mdh_client_id" in current
    wrapper = any(key.startswith("mdh_") for key in current)  # a wrapper of mdh-creds: kept
    if not api_client and (not existing or not wrapper or is_own_command(existing)):
        keys["credential_process"] = process_command(profile)
    keys.update(wanted)
    if region or not current.get("region"):
        keys["region"] = region or DEFAULT_REGION
    section = section_name(text, profile, str(config))
    new = awsconfig.remove_keys(awsconfig.update_section(text, section, keys), section, drop)
    read_back = parse_profile(new, profile, origin=str(config)) or {}
    lost = any(read_back.get(key) != value for key, value in keys.items())
    if lost or any(key in read_back for key in drop):
        raise ConfigError(
            f"profile {profile} in {config} is laid out in a way mdh-creds cannot edit "
            "safely: edit it by hand"
        )
    if new == old:
        return False, read_back
    awsconfig.write_atomic(config, new)
    return True, read_back


def next_step(ctx: Context, profile: str, keys: Mapping[str, str]) -> str:
    """What to run next: the flags still missing, else the AWS CLI call that proves the profile."""
    try:
        settings = parse_settings(ctx.environ, {"profile": profile}, keys, warn_unknown=False)
    except MdhCredsError:
        return f"next: mdh-creds status --profile {profile}"
    by_secret = settings.secret_id is not None  # the secret names the account, key, project
    needs = [
        flag
        for flag, present in (
            ("--service-account NAME", settings.service_account),
            ("--private-key-file KEY.pem", _names_key(settings)),
            ("--project-code CODE (or --project-id ID)", _names_project(settings)),
        )
        if not (present or by_secret)
    ]
    if needs:
        return (
            f"profile {profile} still needs: mdh-creds configure --profile {profile} "
            + " ".join(needs)
        )
    return f"next, check it: aws sts get-caller-identity --profile {profile}"


def _names_key(settings: Settings) -> bool:
    return bool(
        settings.private_key_file
        or settings.private_key
        or settings.private_key_keyring
        or settings.kms_key_id
    )


def _names_project(settings: Settings) -> bool:
    return bool(settings.project_code or settings.project_id or settings.exchange_url)


def _handle_static_keys(ctx: Context, profile: str, shadowing: list[str]) -> None:
    """Remove the shadowing keys with ``--migrate``, else warn about them."""
    credentials = awsconfig.credentials_file_path(ctx.environ)
    if shadowing and ctx.flags.get("migrate"):
        _migrate(ctx, profile)
    elif ctx.flags.get("migrate"):
        ctx.stderr.write(f"mdh-creds: no static keys for [{profile}] in {credentials}\n")
    elif shadowing:
        ctx.stderr.write(
            f"mdh-creds: warning: [{profile}] in {credentials} holds {', '.join(shadowing)}, "
            "static keys that win over credential_process (botocore reads the shared "
            "credentials file first): rerun with --migrate to remove them (a backup is kept)\n"
        )


def _migrate(ctx: Context, profile: str) -> None:
    path = awsconfig.credentials_file_path(ctx.environ)
    text = awsconfig.read_text(path) or ""
    removed = [k for k in awsconfig.STATIC_KEYS if k in awsconfig.section_keys(text, profile)]
    new = awsconfig.remove_keys(text, profile, removed)
    if set(removed) & set(awsconfig.section_keys(new, profile)):
        raise ConfigError(
            f"cannot remove the static keys of [{profile}] from {path}: edit it by hand"
        )
    backup = awsconfig.backup_file(path)
    awsconfig.write_atomic(path, new)
    ctx.stderr.write(
        f"mdh-creds: removed {', '.join(removed)} from [{profile}] in {path} "
        f"(the old file is kept as {backup})\n"
    )


def _write_account_id(ctx: Context, profile: str, config: Path) -> None:
    from mdh_creds.aws.account_id import lookup_account_id
    from mdh_creds.cli.context import make_broker

    settings = parse_settings(ctx.environ, {**ctx.flags, "profile": profile})
    account_id = lookup_account_id(make_broker(ctx, settings).get_credentials(), settings)
    write_profile(config, profile, {"aws_account_id": account_id})
    ctx.stderr.write(f"mdh-creds: wrote aws_account_id = {account_id} to profile {profile}\n")
