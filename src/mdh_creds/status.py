"""``mdh-creds status``: every setting with its source (secrets masked), the cache, its entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdh_creds.errors import MdhCredsError
from mdh_creds.models import to_timestamp
from mdh_creds.settings import Settings

if TYPE_CHECKING:
    from mdh_creds.cli import Context


def collect_status(ctx: Context, settings: Settings) -> dict[str, Any]:
    """A JSON-able report; a configuration error is reported in it, not raised."""
    from mdh_creds.commands import describe_cache, make_broker

    report: dict[str, Any] = {
        "profile": settings.profile,
        "config_file": str(settings.config_file),
        "profile_found": settings.profile_found,
        "settings": {
            name: {"value": item.shown(), "source": item.source}
            for name, item in settings.items.items()
        },
        "error": None,
        "entries": [],
        "warnings": shadowing_warnings(ctx, settings),
    }
    try:
        broker = make_broker(ctx, settings)
    except MdhCredsError as exc:
        report["error"] = str(exc)
        return report
    report["cache"] = describe_cache(settings, broker, ctx)
    report["entries"] = [
        {
            "kind": e.kind,
            "name": e.name,
            "state": e.state,
            "expires_at": to_timestamp(e.expires_at) if e.expires_at else None,
        }
        for e in broker.entries()
    ]
    return report


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
        lines.append(f"  {entry['kind']:<12} {entry['state']:<15} expires {entry['expires_at']}")
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
    from mdh_creds.configure import find_shadowing_keys

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
