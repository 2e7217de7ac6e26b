"""``mdh-creds list``: every mdh profile of the AWS config file (one with an ``mdh_*`` key or
this mdh-creds as its ``credential_process``) with the state of its cached credentials (an API
client's: its token): fresh, stale, expired, unreadable or none, and when they expire. It reads
the cache only: never an exchange, never a token request."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mdh_creds.cache.stored import KIND_CREDENTIALS, KIND_TOKEN
from mdh_creds.cli.context import Context, make_broker
from mdh_creds.cli.launcher import is_own_command
from mdh_creds.clock import relative, to_timestamp, utc_now
from mdh_creds.errors import MdhCredsError
from mdh_creds.redact import printable, redact
from mdh_creds.settings.model import config_file_path, parse_settings
from mdh_creds.settings.profiles import load_profiles

# The better of two entries of one kind (a DynamoDB cache and its local copy) is shown.
_RANK = ("fresh", "stale", "expired", "unreadable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=None, help="print JSON")


def run(ctx: Context) -> int:
    config = config_file_path(ctx.environ)
    rows = [profile_row(ctx, name) for name in mdh_profiles(str(config))]
    if ctx.flags.get("json"):
        ctx.stdout.write(json.dumps({"config_file": str(config), "profiles": rows}, indent=2))
        ctx.stdout.write("\n")
    elif not rows:
        ctx.say(f"no mdh profile in {config}: run mdh-creds configure")
    else:
        ctx.stdout.write(render(rows))
    return 0


def mdh_profiles(config_file: str) -> list[str]:
    """The profiles of ``config_file`` that mdh-creds serves, in file order."""
    return [
        name
        for name, keys in load_profiles(config_file).items()
        if any(key.startswith("mdh_") for key in keys)
        or is_own_command(keys.get("credential_process", ""))
    ]


def profile_row(ctx: Context, name: str) -> dict[str, Any]:
    """The profile's kind and the state of its cached entry; a profile that does not resolve
    shows state ``error`` with the message."""
    row: dict[str, Any] = {"profile": name, "kind": None, "state": "none", "expires_at": None}
    row["expires_in_seconds"] = row["error"] = None
    try:
        settings = parse_settings(ctx.environ, {**ctx.flags, "profile": name}, warn_unknown=False)
        broker = make_broker(ctx, settings)
        entries = list(broker.entries())
    except MdhCredsError as exc:
        row.update(state="error", error=printable(redact(str(exc))))
        return row
    wanted = KIND_TOKEN if broker.tokens_only else KIND_CREDENTIALS
    row["kind"] = "api client" if broker.tokens_only else "service account"
    own = [e for e in entries if e.kind == wanted and e.state in _RANK]
    if own:
        best = min(own, key=lambda e: _RANK.index(e.state))
        row["state"] = best.state
        if best.expires_at is not None:
            row["expires_at"] = to_timestamp(best.expires_at)
            row["expires_in_seconds"] = round((best.expires_at - utc_now()).total_seconds())
    return row


def render(rows: list[dict[str, Any]]) -> str:
    width = max(len("PROFILE"), *(len(row["profile"]) for row in rows))
    lines = [f"{'PROFILE':<{width}}  {'STATE':<10}  EXPIRES"]
    for row in rows:
        if row["error"]:
            when = row["error"]
        elif row["expires_in_seconds"] is not None:
            when = f"{row['expires_at']} ({relative(row['expires_in_seconds'])})"
        else:
            when = "-"
        lines.append(f"{row['profile']:<{width}}  {row['state']:<10}  {when}")
    return "\n".join(lines) + "\n"
