"""``configure --create-table``: create the DynamoDB cache table with the plugin's own AWS
credentials, and when that fails say which credentials to give it (the mdh profile's never
serve the plugin's own calls)."""

from __future__ import annotations

from mdh_creds.cli.context import Context
from mdh_creds.errors import CacheUnavailable, ConfigError
from mdh_creds.settings.model import parse_settings
from mdh_creds.settings.sources import select_profile


def create_table(ctx: Context, profile: str) -> None:
    """``configure --create-table``: the DynamoDB cache table, made once (idempotent)."""
    from mdh_creds.aws.clients import aws_client
    from mdh_creds.cache import dynamodb

    settings = parse_settings(ctx.environ, {**ctx.flags, "profile": profile}, warn_unknown=False)
    table = settings.dynamodb_table
    try:
        created = dynamodb.create_table(aws_client("dynamodb", settings, ctx.environ), table)
    except CacheUnavailable as exc:
        raise ConfigError(_table_advice(ctx, settings.aws_profile, profile, exc)) from exc
    ctx.stderr.write(
        f"mdh-creds: created table {table}\n"
        if created
        else f"mdh-creds: table {table} already exists\n"
    )


def _table_advice(
    ctx: Context, aws_profile: str | None, profile: str, exc: CacheUnavailable
) -> str:
    """The table error, with what to set: the plugin's own calls never use the mdh profile."""
    if aws_profile:
        return f"{exc} (through mdh_aws_profile {aws_profile})"
    if select_profile({}, ctx.environ) == profile:
        return (
            f"{exc}: the plugin's own AWS calls never use the mdh profile {profile} (which "
            "AWS_PROFILE names); set mdh_aws_profile (--aws-profile, MDH_AWS_PROFILE) to a "
            "profile whose AWS credentials may create the table"
        )
    return f"{exc}: give the plugin AWS credentials with mdh_aws_profile (--aws-profile)"
