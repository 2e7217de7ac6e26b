"""``mdh-creds iam-policy``: print the least-privilege IAM policy for the settings in use."""

from __future__ import annotations

import argparse
import json

from mdh_creds.aws.iam_policy import build_policy, notes, where
from mdh_creds.cli.context import Context, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(ctx: Context) -> int:
    """Print the policy as JSON on stdout; notes go to stderr."""
    settings = load_settings(ctx)
    account_id = ctx.environ.get("AWS_ACCOUNT_ID") or None
    policy = build_policy(settings, account_id)
    ctx.stdout.write(json.dumps(policy, indent=2) + "\n")
    wildcard = "*" in where(settings, account_id)
    for note in notes(settings, policy, wildcard):
        ctx.stderr.write(f"mdh-creds: note: {note}\n")
    return 0
