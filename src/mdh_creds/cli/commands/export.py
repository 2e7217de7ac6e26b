"""``mdh-creds export``: the credentials for a shell or a file."""

from __future__ import annotations

import argparse

from mdh_creds.cli.context import Context, load_settings, make_broker
from mdh_creds.errors import ConfigError
from mdh_creds.formats import EXPORT_FORMATS, to_export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="env", help="output format")


def run(ctx: Context) -> int:
    settings = load_settings(ctx)
    creds = make_broker(ctx, settings).get_credentials()
    try:
        text = to_export(creds, ctx.args.format, settings.region, settings.profile)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    ctx.stdout.write(text)
    return 0
