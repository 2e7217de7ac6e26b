"""``mdh-creds configure``: write the mdh profile into the AWS config file and clear its way.

It sets ``credential_process`` and the ``mdh_*`` keys given as flags in ``[profile P]`` (every
value checked first; nothing is written when one is bad), warns about static keys for the same
profile in the shared credentials file, which botocore prefers to ``credential_process``, removes
them with ``--migrate`` (after a backup), creates the DynamoDB cache table with
``--create-table``, and with ``--lookup-account-id`` asks STS once, with freshly minted
credentials, for the account id it writes as ``aws_account_id``. Summaries go to stderr; stdout
stays empty.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdh_creds.cli.context import Context
from mdh_creds.errors import ConfigError
from mdh_creds.settings import awsconfig
from mdh_creds.settings.model import config_file_path
from mdh_creds.settings.profiles import parse_profile
from mdh_creds.settings.sources import select_profile
from mdh_creds.settings.specs import SPECS

_NAME_FORBIDDEN = frozenset("[]'\"\\")
HELP = "write or update the profile in the AWS config file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(ctx: Context) -> int:
    profile = select_profile(ctx.flags, ctx.environ)
    check_profile_name(profile)
    values = setting_values(ctx.flags)
    shadowing = awsconfig.find_shadowing_keys(ctx.environ, profile)
    config = config_file_path(ctx.environ)
    changed = write_profile(config, profile, values)
    verb = "wrote" if changed else "kept (already up to date)"
    ctx.stderr.write(f"mdh-creds: {verb} profile {profile} in {config}\n")
    _handle_static_keys(ctx, profile, shadowing)
    if ctx.flags.get("create_table"):
        _create_table(ctx, profile)
    if ctx.flags.get("lookup_account_id"):
        _write_account_id(ctx, profile, config)
    return 0


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
    values: dict[str, str] = {}
    for spec in SPECS:
        if not spec.in_profile or flags.get(spec.name) is None:
            continue
        text = str(flags[spec.name]).strip()
        try:
            if any(not ch.isprintable() for ch in text):
                raise ValueError("it must be one line of printable characters")
            spec.parse(text)
        except ValueError as exc:
            raise ConfigError(
                f"invalid {spec.key} = {text!r} (from flag {spec.flag}): {exc}"
            ) from None
        values[spec.key] = text
    return values


def section_name(text: str, profile: str) -> str:
    """The header of the profile: ``profile P``; for ``default`` the one settings read first."""
    if profile != "default":
        return f"profile {profile}"
    return "profile default" if "profile default" in awsconfig.section_names(text) else "default"


def write_profile(config: Path, profile: str, values: Mapping[str, str]) -> bool:
    """Set ``values`` (and ``credential_process`` if absent) in the profile; False if unchanged.
    An API client's profile (``mdh_client_id``) gets no ``credential_process``: it holds a
    token, not AWS credentials."""
    old = awsconfig.read_text(config)
    text = old or ""
    process = {"credential_process": f"mdh-creds process --profile {profile}"}
    if "mdh_client_id" in values:
        process = {}
    new = awsconfig.update_section(text, section_name(text, profile), values, process)
    read_back = parse_profile(new, profile, origin=str(config)) or {}
    if any(read_back.get(key) != value for key, value in values.items()):
        raise ConfigError(
            f"profile {profile} in {config} is laid out in a way mdh-creds cannot edit "
            "safely (a duplicate section?): edit it by hand"
        )
    if new == old:
        return False
    awsconfig.write_atomic(config, new)
    return True


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
    from mdh_creds.settings.model import parse_settings

    settings = parse_settings(ctx.environ, {**ctx.flags, "profile": profile})
    account_id = lookup_account_id(make_broker(ctx, settings).get_credentials(), settings)
    write_profile(config, profile, {"aws_account_id": account_id})
    ctx.stderr.write(f"mdh-creds: wrote aws_account_id = {account_id} to profile {profile}\n")


def _create_table(ctx: Context, profile: str) -> None:
    from mdh_creds.aws.clients import aws_client
    from mdh_creds.cache.dynamodb import create_table
    from mdh_creds.settings.model import parse_settings

    settings = parse_settings(ctx.environ, {**ctx.flags, "profile": profile})
    table = settings.dynamodb_table
    created = create_table(aws_client("dynamodb", settings, ctx.environ), table)
    ctx.stderr.write(
        f"mdh-creds: created table {table}\n"
        if created
        else f"mdh-creds: table {table} already exists\n"
    )
