"""``mdh-creds list``: every mdh profile of the AWS config file (one with an ``mdh_*`` key or
this mdh-creds as its ``credential_process``), and every role profile chained on one, with the
state of its cached credentials (an API client's: its token; a role's: its last hop's): fresh,
stale, expired, unreadable or none, and when they expire. It reads the cache only: never an
exchange, a token request or an AssumeRole."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mdh_creds.broker import CredentialBroker, EntryStatus
from mdh_creds.cli.context import Context, make_broker
from mdh_creds.cli.launcher import is_own_command
from mdh_creds.clock import relative, to_timestamp, utc_now
from mdh_creds.errors import MdhCredsError
from mdh_creds.redact import printable, redact
from mdh_creds.roles.chain import Profiles, is_role_profile
from mdh_creds.roles.resolve import chain_for
from mdh_creds.settings.model import config_file_path, parse_settings
from mdh_creds.settings.profiles import load_profiles

# The better of two entries of one kind (a DynamoDB cache and its local copy) is shown.
_RANK = ("fresh", "stale", "expired", "unreadable")
_MAX_HOPS = 32  # a source_profile walk longer than this is a loop botocore refuses too


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=None, help="print JSON")


def run(ctx: Context) -> int:
    config = config_file_path(ctx.environ)
    profiles = load_profiles(str(config))
    mdh = set(mdh_profiles(profiles))
    rows = []
    for name in profiles:
        if name in mdh:
            rows.append(profile_row(ctx, name))
        elif is_role_profile(profiles[name]) and _reaches(profiles, name, mdh):
            row = role_row(ctx, profiles, name)
            if row is not None:
                rows.append(row)
    if ctx.flags.get("json"):
        ctx.stdout.write(json.dumps({"config_file": str(config), "profiles": rows}, indent=2))
        ctx.stdout.write("\n")
    elif not rows:
        ctx.say(f"no mdh profile in {config}: run mdh-creds configure")
    else:
        ctx.stdout.write(render(rows))
    return 0


def mdh_profiles(profiles: Profiles) -> list[str]:
    """The profiles that mdh-creds serves itself, in file order."""
    return [
        name
        for name, keys in profiles.items()
        if any(key.startswith("mdh_") for key in keys)
        or is_own_command(keys.get("credential_process", ""))
    ]


def _reaches(profiles: Profiles, name: str, mdh: set[str]) -> bool:
    """True when ``name``'s ``source_profile`` links lead to an mdh profile (unchecked: the
    chain itself is read, and judged, by ``chain_for``)."""
    current: str | None = name
    for _ in range(_MAX_HOPS):
        keys = profiles.get(current or "")
        if keys is None or not is_role_profile(keys):
            return False
        current = keys.get("source_profile")
        if current in mdh:
            return True
    return False


def _row(name: str, kind: str | None) -> dict[str, Any]:
    return {
        "profile": name,
        "kind": kind,
        "root": None,
        "state": "none",
        "expires_at": None,
        "expires_in_seconds": None,
        "error": None,
    }


def profile_row(ctx: Context, name: str) -> dict[str, Any]:
    """The profile's kind and the state of its cached entry; a profile that does not resolve
    shows state ``error`` with the message."""
    row = _row(name, None)
    try:
        broker, entries = _broker_entries(ctx, name)
    except MdhCredsError as exc:
        row.update(state="error", error=printable(redact(str(exc))))
        return row
    row["kind"] = "api client" if broker.tokens_only else "service account"
    wanted = broker.token_key.name if broker.tokens_only else broker.cred_key.name
    _add_state(row, entries, wanted)
    return row


def role_row(ctx: Context, profiles: Profiles, name: str) -> dict[str, Any] | None:
    """A role chained on an mdh profile: its root and its last hop's entry (no STS call);
    ``None`` when its chain is botocore's to resolve (its root is not served by mdh-creds)."""
    row = _row(name, "role")
    try:
        found = chain_for(profiles, name, ctx.environ, ctx.flags, required=False)
        if found is None:
            return None
        row["root"] = found[0].root
        broker, entries = _broker_entries(ctx, name)
    except MdhCredsError as exc:
        row.update(state="error", error=printable(redact(str(exc))))
        return row
    _add_state(row, entries, broker.cred_key.name)
    return row


def _broker_entries(ctx: Context, name: str) -> tuple[CredentialBroker, list[EntryStatus]]:
    """The broker of profile ``name`` and the entries its cache holds (no exchange)."""
    settings = parse_settings(ctx.environ, {**ctx.flags, "profile": name}, warn_unknown=False)
    broker = make_broker(ctx, settings)
    return broker, list(broker.entries())


def _add_state(row: dict[str, Any], entries: list[Any], wanted: str) -> None:
    own = [e for e in entries if e.name == wanted and e.state in _RANK]
    if not own:
        return
    best = min(own, key=lambda e: _RANK.index(e.state))
    row["state"] = best.state
    if best.expires_at is not None:
        row["expires_at"] = to_timestamp(best.expires_at)
        row["expires_in_seconds"] = round((best.expires_at - utc_now()).total_seconds())


def _kind(row: dict[str, Any]) -> str:
    if row["kind"] == "role":
        return f"role on {row['root']}" if row["root"] else "role"
    return str(row["kind"] or "-")


def render(rows: list[dict[str, Any]]) -> str:
    width = max(len("PROFILE"), *(len(row["profile"]) for row in rows))
    kinds = max(len("KIND"), *(len(_kind(row)) for row in rows))
    lines = [f"{'PROFILE':<{width}}  {'KIND':<{kinds}}  {'STATE':<10}  EXPIRES"]
    for row in rows:
        if row["error"]:
            when = row["error"]
        elif row["expires_in_seconds"] is not None:
            when = f"{row['expires_at']} ({relative(row['expires_in_seconds'])})"
        else:
            when = "-"
        kind = _kind(row)
        lines.append(f"{row['profile']:<{width}}  {kind:<{kinds}}  {row['state']:<10}  {when}")
    return "\n".join(lines) + "\n"
