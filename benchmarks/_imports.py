"""What a cache hit imports: ``-X importtime`` top cumulative imports, and the heavy modules loaded.

The module check runs ``mdh_creds.cli.main(["process"])`` under ``-c`` and prints the heavy
modules found in ``sys.modules`` to stderr, so stdout stays the process JSON.
"""

from __future__ import annotations

import ast
from typing import Any

from _hits import credentials_of, process_argv
from _measure import BenchError, Command, run_once
from _report import Row, render_table, say
from _world import World

HEAVY = ("requests", "jwt", "boto3", "botocore", "keyring")
FORBIDDEN_ON_FILE_HIT = ("requests", "jwt", "boto3", "botocore")
WRAPPER = (
    "import sys\n"
    "from mdh_creds.cli.main import main\n"
    "code = main(['process'])\n"
    f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    "raise SystemExit(code)\n"
)


def loaded_heavy_modules(world: World, backend: str) -> list[str]:
    """Heavy modules present after one hit through ``backend``."""
    env = world.mdh_env(backend, world.cache_dir(backend))
    outcome = run_once(Command(f"modules: {backend}", [world.python, "-c", WRAPPER], env))
    credentials_of(outcome)
    last = outcome.stderr.strip().splitlines()[-1] if outcome.stderr.strip() else ""
    try:
        found = ast.literal_eval(last)
    except (ValueError, SyntaxError) as exc:
        raise BenchError(f"the module list was not printed: {last[:80]!r}") from exc
    return [str(name) for name in found]


def parse_importtime(text: str) -> list[dict[str, Any]]:
    """``-X importtime`` lines as ``{"module", "self_us", "cumulative_us", "depth"}``."""
    entries = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        entries.append(
            {
                "module": name.strip(),
                "self_us": int(parts[0]),
                "cumulative_us": int(parts[1]),
                "depth": depth,
            }
        )
    return entries


def import_times(world: World, backend: str) -> list[dict[str, Any]]:
    """Every import of one hit through ``backend``, slowest cumulative first."""
    env = world.mdh_env(backend, world.cache_dir(backend))
    command = Command(f"importtime: {backend}", process_argv(world, "-X", "importtime"), env)
    outcome = run_once(command)
    credentials_of(outcome)
    return sorted(parse_importtime(outcome.stderr), key=lambda e: -e["cumulative_us"])


def _print_top(
    backend: str, entries: list[dict[str, Any]], top: int, order: str = "cumulative"
) -> None:
    total = sum(e["self_us"] for e in entries)
    say(f"\n-X importtime, {backend} hit: top {top} by {order} ({total / 1000:.1f} ms in all)")
    body = [
        [e["module"], f"{e['cumulative_us'] / 1000:.1f} ms", f"{e['self_us'] / 1000:.1f} ms"]
        for e in entries[:top]
    ]
    say(render_table(["module", "cumulative", "self"], body))


def measure_imports(world: World) -> tuple[Row, dict[str, Any]]:
    """The file-hit import check as a row, plus import times of every available backend."""
    backends = [b for b in ("file", "keyring", "dynamodb") if b != "keyring" or world.keyring_env]
    report: dict[str, Any] = {"modules": {}, "importtime": {}}
    for backend in backends:
        report["modules"][backend] = loaded_heavy_modules(world, backend)
        entries = import_times(world, backend)
        by_self = sorted(entries, key=lambda e: -e["self_us"])
        report["importtime"][backend] = {
            "total_self_us": sum(e["self_us"] for e in entries),
            "top_cumulative": entries[:25],
            "top_self": by_self[:25],
        }
        _print_top(backend, entries, 10 if backend == "file" else 5)
        if backend == "file":
            _print_top(backend, by_self, 10, "self")
    say(
        "\nheavy modules loaded by one hit: "
        + "; ".join(f"{b}: {', '.join(m) or 'none'}" for b, m in report["modules"].items())
    )
    loaded = [m for m in report["modules"]["file"] if m in FORBIDDEN_ON_FILE_HIT]
    row = Row(
        key="hit.file.imports",
        label="1. file hit imports",
        ours_text=", ".join(report["modules"]["file"]) or "none of them",
        target="no requests/jwt/boto3/botocore",
        checks={"no_heavy_imports": not loaded},
        note=f"file hit loaded {', '.join(loaded)}" if loaded else "",
        details=report,
    )
    return row, report
