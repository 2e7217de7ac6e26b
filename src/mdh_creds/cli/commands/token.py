"""``mdh-creds token``: the access token (the MDH REST API's, or an API client's), raw, as JSON,
or as the header line ``curl -H @-`` reads."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from mdh_creds.cli.context import Context, make_broker
from mdh_creds.clock import to_timestamp, utc_now
from mdh_creds.models import AccessToken


def add_arguments(parser: argparse.ArgumentParser) -> None:
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument(
        "--json",
        action="store_true",
        default=None,
        help="print JSON: access_token, token_type, expires_in, expires_at, expires_at_epoch",
    )
    shape.add_argument(
        "--header",
        action="store_true",
        default=None,
        help="print 'Authorization: Bearer <token>' (for curl -H @-)",
    )


def run(ctx: Context) -> int:
    token = make_broker(ctx).get_access_token()
    if ctx.flags.get("json"):
        ctx.stdout.write(json.dumps(token_document(token)) + "\n")
    elif ctx.flags.get("header"):
        ctx.stdout.write(f"Authorization: Bearer {token.value}\n")
    else:
        ctx.stdout.write(token.value + "\n")
    return 0


def token_document(token: AccessToken) -> dict[str, Any]:
    """The ``--json`` document; times on this machine's clock (skew-corrected), whole seconds."""
    expires_at = token.local_expires_at
    epoch = math.floor(expires_at.timestamp())
    return {
        "access_token": token.value,
        "token_type": "Bearer",
        "expires_in": max(0, epoch - math.ceil(utc_now().timestamp())),
        "expires_at": to_timestamp(expires_at),
        "expires_at_epoch": epoch,
    }
