"""``mdh-creds iam-policy``: print the least-privilege IAM policy for the settings in use
(``--wrap``: for ``mdh-creds wrap`` with these flags, which reads no profile)."""

from __future__ import annotations

import argparse
import json

from mdh_creds.aws.iam_policy import build_policy, notes, where
from mdh_creds.cli.context import Context, load_settings
from mdh_creds.settings.model import Settings, parse_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wrap",
        action="store_true",
        default=None,
        help="the policy of `mdh-creds wrap` given the same setting flags (reads no profile)",
    )


def run(ctx: Context) -> int:
    """Print the policy as JSON on stdout; notes go to stderr."""
    wrap = bool(ctx.flags.get("wrap"))
    settings = _wrap_settings(ctx) if wrap else load_settings(ctx)
    account_id = ctx.environ.get("AWS_ACCOUNT_ID") or None
    policy = build_policy(settings, account_id, wrap=wrap)
    ctx.stdout.write(json.dumps(policy, indent=2) + "\n")
    wildcard = "*" in where(settings, account_id)
    for note in notes(settings, policy, wildcard, wrap=wrap):
        ctx.stderr.write(f"mdh-creds: note: {note}\n")
    return 0


def _wrap_settings(ctx: Context) -> Settings:
    """As ``wrap`` reads them: flags and environment only."""
    return parse_settings(ctx.environ, ctx.flags, profile_keys={}, warn_unknown=False)
