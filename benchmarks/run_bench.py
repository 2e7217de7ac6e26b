"""``make bench``: mdh-creds against its baselines, side by side in one run.

Starts an isolated world on 127.0.0.1 (MDH emulator, moto server, private Secret Service), then
measures, each comparison interleaved so machine noise hits both sides alike:

1. cache hit per backend against the interpreter and decrypt floors (+ import check);
2. the AWS CLI through credential_process against static keys;
3. a cold exchange against a minimal requests + PyJWT script;
4. a storm of cold processes on one file cache (single flight);
5. cold fleets of 8, 32 and 64 machines on one DynamoDB table, each request counted (single
   flight at a flat cost per machine), then their warm rounds (local copies);
6. in-process credential reads against a static boto3 session;
7. the credentials endpoint's answer time from a client on this machine, then from 32 at once;
8. the exchanges a long-lived ``exec --server`` child causes, however often it asks.

Prints a table of medians and ratios, writes ``results.json`` and ``chart.png`` next to this file.
Exit 0 when everything was measured (missed targets included), 1 when a row could not be.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _calls import measure_aws_cli, measure_cold
from _chart import draw
from _crowds import measure_storm
from _endpoint import measure_endpoint, measure_long_child
from _fleet import measure_fleets
from _hits import measure_hits
from _imports import measure_imports
from _inprocess import measure_inprocess
from _readme import update_readme
from _report import (
    Row,
    failed_row,
    final_table,
    hide_path,
    machine,
    notes,
    say,
    write_results,
)
from _world import World, compile_package, open_world

HERE = Path(__file__).resolve().parent
QUICK: dict[str, int | str] = {
    "rounds": 3,
    "trials": 1,
    "blocks": 4,
    "calls": 500,
    "requests": 100,
    "child_seconds": 9,
    "fleets": "4,8",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (rows 1-3)")
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    parser.add_argument("--storm", type=int, default=32, help="processes in the storm (row 4)")
    parser.add_argument(
        "--fleets", default="8,32,64", help="machines per fleet, comma-separated (row 5)"
    )
    parser.add_argument("--delay", type=float, default=0.3, help="exchange delay (rows 4-5), s")
    parser.add_argument("--trials", type=int, default=3, help="storms and fleets to run")
    parser.add_argument("--blocks", type=int, default=20, help="blocks per session (row 6)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per block (row 6)")
    parser.add_argument("--requests", type=int, default=500, help="endpoint requests (row 7)")
    parser.add_argument(
        "--child-seconds", type=float, default=30.0, help="long-lived child's run (row 8), s"
    )
    parser.add_argument("--no-keyring", action="store_true", help="skip the Secret Service")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results and chart")
    parser.add_argument(
        "--only",
        default="",
        help="measure only these rows (keys, comma-separated: hit, aws_cli, cold, ...); "
        "prints the table and writes nothing",
    )
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            smaller = value if isinstance(value, str) else min(getattr(args, name), value)
            setattr(args, name, smaller)
    args.fleets = [int(n) for n in str(args.fleets).split(",") if n.strip()]
    args.only = {key.strip() for key in str(args.only).split(",") if key.strip()}
    return args


ONLY: set[str] = set()  # ``--only``: the row keys to measure (empty: every row)


def guarded(key: str, label: str, measure: Callable[[], list[Row]]) -> list[Row]:
    """The rows ``measure`` returns, or one ``error`` row when it raises (none for a row that
    ``--only`` leaves out)."""
    if ONLY and key not in ONLY:
        return []
    say(f"\n== {label}")
    started = time.perf_counter()
    try:
        rows = measure()
    except Exception as exc:
        say(traceback.format_exc(limit=3))
        return [failed_row(key, label, "error", f"{type(exc).__name__}: {exc}")]
    say(f"   ({time.perf_counter() - started:.1f} s)")
    return rows


def measure_all(world: World, args: argparse.Namespace, extra: dict[str, Any]) -> list[Row]:
    """Every row, in an order that keeps the caches each row needs warm."""

    def imports() -> list[Row]:
        row, extra["imports"] = measure_imports(world)
        return [row]

    def cold_rows() -> list[Row]:
        world.mint_iam_users(False)
        return [measure_cold(world, args.rounds)]

    world.mint_iam_users(True)
    rows = guarded("hit", "1. cache hits", lambda: measure_hits(world, args.rounds))
    rows += guarded("hit.file.imports", "1. imports of a hit", imports)
    rows += guarded("aws_cli", "2. AWS CLI", lambda: [measure_aws_cli(world, args.rounds)])
    rows += guarded("cold", "3. cold exchange", cold_rows)
    rows += guarded(
        "storm",
        "4. storm",
        lambda: [measure_storm(world, args.storm, args.delay, args.trials)],
    )
    rows += guarded(
        "fleet",
        "5. fleets",
        lambda: measure_fleets(world, args.fleets, args.delay, args.trials),
    )
    rows += guarded(
        "inprocess",
        "6. in-process",
        lambda: [measure_inprocess(world, args.blocks, args.calls)],
    )
    rows += guarded("endpoint", "7. endpoint", lambda: measure_endpoint(world, args.requests))
    rows += guarded(
        "long_child",
        "8. long-lived child",
        lambda: [measure_long_child(world, args.child_seconds)],
    )
    return rows


def _plain(value: Any) -> Any:
    """A setting as JSON holds it: a path as text, a set (``--only``) as a sorted list."""
    if isinstance(value, Path):
        return str(value)
    return sorted(value) if isinstance(value, set) else value


def report(rows: list[Row], args: argparse.Namespace, extra: dict[str, Any], took: float) -> None:
    say("\n" + final_table(rows))
    for line in notes(rows):
        say(f"  - {line}")
    if args.only:  # a partial run never replaces the whole run's results
        say(f"\n{took:.0f} s in total; --only: nothing written")
        return
    settings = {k: _plain(v) for k, v in vars(args).items()}
    payload = {
        "machine": machine(),
        "settings": settings,
        "duration_seconds": round(took, 1),
        "rows": [row.to_json() for row in rows],
        **extra,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_results(args.out / "results.json", payload)
    draw(rows, args.out / "chart.png")
    readme = HERE.parent / "docs" / "performance.md"
    if args.out.resolve() == HERE.resolve() and update_readme(readme, rows):
        say("updated the table in docs/performance.md")
    say(f"\nwrote results.json and chart.png ({took:.0f} s in total)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ONLY.update(args.only)
    hide_path(HERE.parent, "<project>")
    hide_path(sys.prefix, "<venv>")
    hide_path(Path.home(), "~")
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    compile_package()
    with open_world(keyring=not args.no_keyring) as world:
        hide_path(world.root, "<tmp>")
        say(f"world ready: emulator, moto, secret service: {world.keyring_skip or 'running'}")
        rows = measure_all(world, args, extra)
    report(rows, args, extra, time.perf_counter() - started)
    return 1 if any(row.status == "error" for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
