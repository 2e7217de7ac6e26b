"""``mdh-creds status``: every setting with its source (secrets masked) and every value resolved
from them: the cache folder and backend, its entries, the clock skew, and whether the profile's
``credential_process`` can be started. The human form and ``--json`` hold the same facts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdh_creds.broker import EntryStatus
from mdh_creds.cache.backends import CacheBackend
from mdh_creds.cache.stored import KIND_CREDENTIALS
from mdh_creds.cli.context import (
    Context,
    describe_cache,
    load_settings,
    make_broker,
    role_chain,
)
from mdh_creds.cli.launcher import check_process
from mdh_creds.clock import relative, to_timestamp, utc_now
from mdh_creds.errors import MdhCredsError
from mdh_creds.redact import printable, redact
from mdh_creds.roles.chain import Chain
from mdh_creds.settings.awsconfig import find_shadowing_keys
from mdh_creds.settings.model import Settings
from mdh_creds.settings.profiles import load_profile
from mdh_creds.settings.typos import unknown_key_warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=None, help="print JSON")


def run(ctx: Context) -> int:
    """Exit 3 on a configuration error. With ``--json`` the exit code is a health check: 0 only
    when valid (fresh or stale, unexpired) credentials are at hand in the cache, else 1."""
    report = collect_status(ctx, load_settings(ctx, warn_unknown=False))
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
    from mdh_creds.factory import cache_folder
    from mdh_creds.roles.resolve import reported_hop_key_warnings

    ignored = reported_hop_key_warnings(str(settings.config_file), settings.profile)
    chain, root = _chain(ctx, settings)
    folder = cache_folder(root, ctx.environ)
    cache = _cache(ctx, root)
    report: dict[str, Any] = {
        "profile": settings.profile,
        "config_file": str(settings.config_file),
        "profile_found": settings.profile_found,
        "settings": shown_settings(root, folder),
        "region": settings.region,
        "error": None,
        "healthy": False,  # valid credentials at hand (the exit code of ``status --json``)
        "cache": describe_cache(settings, cache, folder),
        "entries": [],
        "clock_skew_seconds": None,
        "secret_memo": secret_memo(root, ctx.environ),
        **profile_checks(ctx, settings, role=chain is not None),
    }
    if chain is not None:
        report["chain"] = chain.describe()
        report["warnings"] += ignored
    try:
        _add_entries(report, make_broker(ctx, settings, cache=cache, ask=True))
    except MdhCredsError as exc:
        report["error"] = printable(redact(str(exc)))  # may quote an AWS service's answer
    name_wraps(ctx, settings, report["entries"])
    return report


def name_wraps(ctx: Context, settings: Settings, entries: list[dict[str, Any]]) -> None:
    """Another identity's entry that a wrap of the AWS config file keeps shows as that wrap
    (``wrap NAME``); any other stays ``other identity``."""
    from mdh_creds.cli.wraps import wrap_labels
    from mdh_creds.settings.profiles import load_profiles

    foreign = [e for e in entries if e["state"] == "other identity"]
    if not foreign:
        return
    try:
        labels = wrap_labels(load_profiles(str(settings.config_file)), ctx.parser_factory)
    except MdhCredsError:
        return
    for entry in foreign:
        entry["state"] = labels.get(entry["name"], entry["state"])


def _chain(ctx: Context, settings: Settings) -> tuple[Chain | None, Settings]:
    """A role profile's chain and its root's settings (whose cache serves it), else ``None``
    and the profile's own; a chain that cannot be served is reported by ``make_broker``."""
    try:
        chained = role_chain(ctx, settings)
    except MdhCredsError:
        return None, settings
    return chained if chained is not None else (None, settings)


def secret_memo(settings: Settings, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """For an account read from Secrets Manager: this machine's memo of the secret (``mdh.memo``),
    whether it is there and how old it is."""
    import time

    from mdh_creds.mdh.memo import SECRET_TTL, memo_age, settings_memo

    path = settings_memo(settings, environ)
    if path is None:
        return None
    try:
        age = memo_age(path, time.time())
    except (ValueError, OSError):
        return {"path": path, "present": False, "age_seconds": None, "usable": False}
    usable = age is not None and 0 <= age < SECRET_TTL
    shown = None if age is None else round(age)
    return {"path": path, "present": True, "age_seconds": shown, "usable": usable}


def profile_checks(ctx: Context, settings: Settings, *, role: bool = False) -> dict[str, Any]:
    """The profile's ``credential_process`` and what to fix: unknown keys, shadowing static
    keys, a program that cannot be started (a ``role`` profile needs none: botocore would
    assume its role before running one)."""
    keys = load_profile(str(settings.config_file), settings.profile) or {}
    process = check_process(keys.get("credential_process"), settings.profile, ctx.environ)
    where = f"profile {settings.profile} of {settings.config_file}"
    warnings = unknown_key_warnings(keys, where) + shadowing_warnings(ctx, settings)
    if (
        process.warning and settings.profile_found and not role
    ):  # no profile: the error says what to run
        warnings.append(process.warning)
    if settings.region is None and settings.profile_found:
        warnings.append(no_region_warning(settings))
    found = {"program": process.program, "found": process.found, "path": process.found_at}
    return {"credential_process": found, "warnings": warnings}


def shown_settings(settings: Settings, folder: Path) -> dict[str, dict[str, str]]:
    """Each setting as shown (secrets masked); the cache folder as resolved, never unset."""
    shown = {
        name: {"value": item.shown(), "source": item.source}
        for name, item in settings.items.items()
    }
    if settings.cache_dir is None:
        shown["cache_dir"]["value"] = str(folder)
    return shown


def _cache(ctx: Context, settings: Settings) -> CacheBackend | None:
    """The cache the settings name (``None`` with ``--no-cache`` or when it cannot run)."""
    from mdh_creds.clock import utc_now
    from mdh_creds.factory import build_cache, exchange_budget

    if ctx.flags.get("no_cache"):
        return None
    return build_cache(settings, ctx.environ, utc_now, exchange_budget(settings))


def _add_entries(report: dict[str, Any], broker: Any) -> None:
    try:
        entries = list(broker.entries())
    except MdhCredsError as exc:  # an unreachable table: a warning, not a failed status
        report["warnings"].append(printable(redact(str(exc))))
        return
    now = utc_now()
    report["entries"] = [
        {
            "kind": e.kind,
            "tier": e.tier,
            "name": e.name,
            "state": e.state,
            "expires_at": to_timestamp(e.expires_at) if e.expires_at else None,
            "expires_in_seconds": (
                round((e.expires_at - now).total_seconds()) if e.expires_at else None
            ),
            "clock_skew_seconds": e.skew.total_seconds() if e.skew is not None else None,
        }
        for e in entries
    ]
    report["clock_skew_seconds"] = measured_skew(entries)
    # An API client: its token; a role profile: the last hop's credentials, not those below.
    wanted = broker.token_key.name if broker.tokens_only else broker.cred_key.name
    report["healthy"] = any(e.name == wanted and e.state in ("fresh", "stale") for e in entries)


def measured_skew(entries: list[EntryStatus]) -> float | None:
    """MDH's clock minus ours, as measured by the newest exchange that is still cached."""
    measured = [e for e in entries if e.skew is not None and e.expires_at is not None]
    if not measured:
        return None
    newest = max(measured, key=lambda e: (e.kind == KIND_CREDENTIALS, e.expires_at))
    return newest.skew.total_seconds() if newest.skew is not None else None


def render_status(report: dict[str, Any]) -> str:
    """The report for humans: the same facts as ``--json``, with no Python ``None`` in sight."""
    lines = [
        f"profile      {report['profile']} in {report['config_file']}"
        + ("" if report["profile_found"] else " (profile not found)")
    ]
    for name, item in report["settings"].items():
        lines.append(f"  {name:<18} {item['value']:<40} {item['source']}")
    lines.append(f"region       {report['region'] or 'not set'}")
    lines += [f"chain        {step}" for step in report.get("chain", [])]
    cache = report["cache"]
    lines.append(f"cache        {cache['backend']} ({cache['where']})")
    lines.append(f"cache folder {cache['folder']}")
    if report["secret_memo"] is not None:
        lines.append(_memo_line(report["secret_memo"]))
    lines += _entry_lines(report)
    skew = report["clock_skew_seconds"]
    if skew is None:
        lines.append("clock skew   not measured yet (no exchange is cached)")
    else:
        warning = "  (over 5 minutes: fix the system clock)" if abs(skew) > 300 else ""
        lines.append(f"clock skew   {skew:+.0f} s against MDH{warning}")
    lines.append(_process_line(report["credential_process"], report["profile"]))
    lines += [f"warning      {warning}" for warning in report["warnings"]]
    if report["error"]:
        lines.append(f"error        {report['error']}")
    return "\n".join(lines) + "\n"


def _memo_line(memo: dict[str, Any]) -> str:
    if not memo["present"]:
        return "secret memo  none (the next command reads the secret)"
    age = memo["age_seconds"]
    written = "at an unknown time" if age is None else relative(-age) if age else "just now"
    use = "in use" if memo["usable"] else "not used: the next command reads the secret"
    return f"secret memo  {memo['path']}, written {written} ({use})"


def _process_line(process: dict[str, Any], profile: str) -> str:
    if process["program"] is None:
        return f"credential_process none in profile {profile}"
    if not process["found"]:
        return f"credential_process runs {process['program']} (NOT FOUND)"
    where = "" if process["path"] == process["program"] else f" at {process['path']}"
    return f"credential_process runs {process['program']} (found{where})"


def _entry_lines(report: dict[str, Any]) -> list[str]:
    if not report["entries"]:
        return ["entries      none"]
    lines = ["entries"]
    for entry in report["entries"]:
        expires = ""
        if entry["expires_at"]:
            expires = f"expires {entry['expires_at']} ({relative(entry['expires_in_seconds'])})"
        where = f"{entry['kind']} ({entry['tier']})" if entry.get("tier") else entry["kind"]
        lines.append(f"  {where:<22} {entry['state']:<15} {expires}".rstrip())
    return lines


def no_region_warning(settings: Settings) -> str:
    """No region anywhere: the AWS CLI and SDKs stop with NoRegionError before any call."""
    return (
        f"no region: set region in profile {settings.profile} of {settings.config_file} (or "
        "AWS_REGION): the AWS CLI and SDKs need one (MDH's Export Explorer is in us-east-1)"
    )


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
