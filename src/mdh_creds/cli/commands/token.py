"""``mdh-creds token``: the MDH REST API access token."""

from __future__ import annotations

import argparse
import json

from mdh_creds.cli.context import Context, make_broker
from mdh_creds.clock import to_timestamp

HELP = "print the MDH REST API access token"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=None, help="print JSON")


def run(ctx: Context) -> int:
    token = make_broker(ctx).get_access_token()
    if ctx.flags.get("json"):
        document = {"access_token": token.value, "expires_at": to_timestamp(token.expires_at)}
        ctx.stdout.write(json.dumps(document) + "\n")
    else:
        ctx.stdout.write(token.value + "\n")
    return 0
