"""Timing primitives: one child process, interleaved rounds, a crowd started at once, statistics.

Wall time is ``time.perf_counter`` around the whole child (start to exit, output captured).
Interleaving rotates which command goes first each round, so load from other work on the
machine hits every command alike; comparisons use medians.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

TIMEOUT = 120.0


class BenchError(RuntimeError):
    """A command the benchmark relies on failed: the row cannot be measured."""


@dataclass(frozen=True)
class Command:
    """A labelled child process: argv and its complete environment."""

    label: str
    argv: Sequence[str]
    env: Mapping[str, str]


@dataclass(frozen=True)
class Outcome:
    """How one child ended."""

    seconds: float
    code: int
    stdout: str
    stderr: str


def run_once(command: Command, *, check: bool = True) -> Outcome:
    """Run ``command`` to completion and time it; raise ``BenchError`` if it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        list(command.argv),
        env=dict(command.env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - start
    outcome = Outcome(seconds, done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        raise BenchError(f"{command.label} exited {done.returncode}: {tail(done.stderr)}")
    return outcome


def tail(text: str, lines: int = 3) -> str:
    """The last lines of ``text`` on one line (for error messages)."""
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


def interleave(
    commands: Sequence[Command],
    rounds: int,
    verify: Callable[[Command, Outcome], None] | None = None,
) -> dict[str, list[float]]:
    """Run every command once per round, in a fresh random order each round (so no command
    always follows the same neighbour and inherits its after-effects); seconds per label."""
    samples: dict[str, list[float]] = {c.label: [] for c in commands}
    order = random.Random(20261122)  # seeded: the same schedule on every run
    for _ in range(rounds):
        for command in order.sample(list(commands), len(commands)):
            outcome = run_once(command)
            if verify is not None:
                verify(command, outcome)
            samples[command.label].append(outcome.seconds)
    return samples


def run_together(commands: Sequence[Command]) -> list[Outcome]:
    """Start every command at once (one waiting thread each); their outcomes in order."""
    results: list[Outcome | None] = [None] * len(commands)
    barrier = threading.Barrier(len(commands))

    def worker(index: int, command: Command) -> None:
        barrier.wait()
        results[index] = run_once(command, check=False)

    threads = [
        threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(commands)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT + 10)
    missing = [commands[i].label for i, r in enumerate(results) if r is None]
    if missing:
        raise BenchError(f"no outcome for {', '.join(missing)}")
    return [r for r in results if r is not None]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, min, max and count of ``values``."""
    return {
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }
