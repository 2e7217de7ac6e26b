"""``mdh-creds status``: every setting with its source (secrets masked), the cache, its entries."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mdh_creds.broker import EntryStatus
from mdh_creds.cache.stored import KIND_CREDENTIALS
from mdh_creds.cli.context import Context, describe_cache, load_settings, make_broker
from mdh_creds.clock import to_timestamp
from mdh_creds.errors import MdhCredsError
from mdh_creds.settings.awsconfig import find_shadowing_keys
from mdh_creds.settings.model import Settings

HELP = "show settings with their sources, the cache and its entries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=None, help="print JSON")


def run(ctx: Context) -> int:
    """Exit 3 on a configuration error. With ``--json`` the exit code is a health check: 0 only
    when valid (fresh or stale, unexpired) credentials are at hand in the cache, else 1."""
    report = collect_status(ctx, load_settings(ctx))
    if report.get("error") is not None:
        code = 3
    elif ctx.flags.get("json"):
        code = 0 if report["healthy"] else 1
    else:
        code = 0
    if ctx.flags.get("json"):
        ctx.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        ctx.stdout.write(render_status(report))
    return code


def collect_status(ctx: Context, settings: Settings) -> dict[str, Any]:
    """A JSON-able report; a configuration error is reported in it, not raised."""
    report: dict[str, Any] = {
        "profile": settings.profile,
        "config_file": str(settings.config_file),
        "profile_found": settings.profile_found,
        "settings": {
            name: {"value": item.shown(), "source": item.source}
            for name, item in settings.items.items()
        },
        "error": None,
        "healthy": False,  # valid credentials at hand (the exit code of ``status --json``)
        "entries": [],
        "warnings": shadowing_warnings(ctx, settings),
    }
    try:
        broker = make_broker(ctx, settings)
    except MdhCredsError as exc:
        report["error"] = str(exc)
        return report
    report["cache"] = describe_cache(settings, broker, ctx)
    entries = list(broker.entries())
    report["entries"] = [
        {
            "kind": e.kind,
            "tier": e.tier,
            "name": e.name,
            "state": e.state,
            "expires_at": to_timestamp(e.expires_at) if e.expires_at else None,
            "clock_skew_seconds": e.skew.total_seconds() if e.skew is not None else None,
        }
        for e in entries
    ]
    report["clock_skew_seconds"] = measured_skew(entries)
    report["healthy"] = any(
        e.kind == KIND_CREDENTIALS and e.state in ("fresh", "stale") for e in entries
    )
    return report


def measured_skew(entries: list[EntryStatus]) -> float | None:
    """MDH's clock minus ours, as measured by the newest exchange that is still cached."""
    measured = [e for e in entries if e.skew is not None and e.expires_at is not None]
    if not measured:
        return None
    newest = max(measured, key=lambda e: (e.kind == KIND_CREDENTIALS, e.expires_at))
    return newest.skew.total_seconds() if newest.skew is not None else None


def render_status(report: dict[str, Any]) -> str:
    lines = [
        f"profile      {report['profile']} in {report['config_file']}"
        + ("" if report["profile_found"] else " (profile not found)")
    ]
    for name, item in report["settings"].items():
        lines.append(f"  {name:<18} {item['value']:<40} {item['source']}")
    if report.get("cache"):
        cache = report["cache"]
        lines.append(f"cache        {cache['backend']} ({cache['where'] or 'nothing kept'})")
    for entry in report["entries"]:
        where = f"{entry['kind']} ({entry['tier']})" if entry.get("tier") else entry["kind"]
        lines.append(f"  {where:<22} {entry['state']:<15} expires {entry['expires_at']}")
    skew = report.get("clock_skew_seconds")
    if skew is not None:
        warning = "  (over 5 minutes: fix the system clock)" if abs(skew) > 300 else ""
        lines.append(f"clock skew   {skew:+.0f} s against MDH{warning}")
    for warning in report.get("warnings", []):
        lines.append(f"warning      {warning}")
    if report["error"]:
        lines.append(f"error        {report['error']}")
    return "\n".join(lines) + "\n"


def shadowing_warnings(ctx: Context, settings: Settings) -> list[str]:
    """Static keys for the profile in the credentials file win over credential_process."""
    try:
        keys = find_shadowing_keys(ctx.environ, settings.profile)
    except MdhCredsError as exc:
        return [str(exc)]
    if not keys:
        return []
    return [
        f"the credentials file holds {', '.join(keys)} for [{settings.profile}], which win over "
        f"credential_process: run mdh-creds configure --profile {settings.profile} --migrate"
    ]
