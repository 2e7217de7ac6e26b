"""``mdh-creds process``: the credential_process JSON (the default command)."""

from __future__ import annotations

import argparse

from mdh_creds.aws.guard import guard_children, refuse_nesting
from mdh_creds.cli.context import Context, load_settings, make_broker
from mdh_creds.formats import to_process_json
from mdh_creds.freshness import SDK_MIN_LEFT

NESTED_PROCESS = (
    "mdh-creds was started by its own AWS client (the mdh profile resolving itself): "
    "set mdh_aws_profile to a profile that does not use mdh-creds"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(ctx: Context) -> int:
    refuse_nesting(ctx.environ, NESTED_PROCESS)
    settings = load_settings(ctx)
    with guard_children():  # an AWS client's credential_process started here must not loop
        # botocore re-runs a process with 15 minutes or less left on every call (DESIGN 5).
        creds = make_broker(ctx, settings, min_left=SDK_MIN_LEFT).get_credentials()
    ctx.stdout.write(to_process_json(creds, settings.account_id) + "\n")
    ctx.stdout.flush()
    return 0
