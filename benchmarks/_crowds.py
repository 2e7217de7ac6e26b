"""Row 4: many cold processes at once must share one exchange (single flight).

Storm: N processes on one fresh file-cache folder (a file lock per entry). The fleet on one
DynamoDB table, with its request counts, is row 5 (``_fleet``).

The emulator delays the first exchange so the processes overlap while it is in flight. Each trial
counts the exchange and token requests it caused, the latency of every process (its own start
to exit) and whether all printed the same credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from _hits import process_argv
from _measure import Command, run_together, summary, tail
from _report import Row, show
from _world import World


@dataclass(frozen=True)
class Trial:
    """One crowd: what the emulator saw and what the processes printed."""

    latencies: list[float]
    exchanges: int
    tokens: int
    identical: bool
    failures: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "exchanges": self.exchanges,
            "tokens": self.tokens,
            "identical_outputs": self.identical,
            "failures": self.failures,
            "latency": summary(self.latencies),
        }


def run_crowd(world: World, commands: list[Command], delay: float) -> Trial:
    """Start ``commands`` at once with the next exchange delayed by ``delay`` seconds."""
    emulator = world.emulator
    exchanges, tokens = emulator.count("exchange"), emulator.count("token")
    if delay > 0:
        emulator.delay("exchange", delay, times=1)
    outcomes = run_together(commands)
    failures = [f"exit {o.code}: {tail(o.stderr, 1)}" for o in outcomes if o.code != 0]
    outputs = {o.stdout for o in outcomes if o.code == 0}
    return Trial(
        latencies=[o.seconds for o in outcomes],
        exchanges=emulator.count("exchange") - exchanges,
        tokens=emulator.count("token") - tokens,
        identical=len(outputs) == 1 and not failures,
        failures=failures[:5],
    )


def _row(key: str, label: str, trials: list[Trial], processes: int, delay: float) -> Row:
    latencies = [s for t in trials for s in t.latencies]
    stats = summary(latencies)
    exchanges = [t.exchanges for t in trials]
    tokens = [t.tokens for t in trials]
    failures = [f for t in trials for f in t.failures]
    note = (
        f"{processes} processes x {len(trials)} trial(s), exchange delayed {delay:g} s: "
        f"exchanges per trial {exchanges}, token requests {tokens}, "
        f"latency median {show(stats['median'], 's')} p95 {show(stats['p95'], 's')}"
    )
    if failures:
        note += f"; failures: {failures[0]}"
    return Row(
        key=key,
        label=label,
        ours=stats["median"],
        ours_text=f"{show(stats['median'], 's')} (p95 {show(stats['p95'], 's')})",
        target="1 exchange, same output",
        checks={
            "one_exchange_per_trial": all(n == 1 for n in exchanges),
            "identical_outputs": all(t.identical for t in trials),
        },
        note=note,
        details={"latency": stats, "trials": [t.to_json() for t in trials]},
        samples={"ours": latencies},
    )


def _trials(
    world: World, trials: int, delay: float, commands_for: Callable[[int], list[Command]]
) -> list[Trial]:
    return [run_crowd(world, commands_for(index), delay) for index in range(trials)]


def measure_storm(world: World, processes: int, delay: float, trials: int) -> Row:
    """Row 4: cold processes on one fresh file-cache folder."""

    def commands(index: int) -> list[Command]:
        env = world.mdh_env("file", world.cache_dir(f"storm-{index}"))
        return [Command(f"storm {i}", process_argv(world), env) for i in range(processes)]

    done = _trials(world, trials, delay, commands)
    return _row("storm", f"4. storm: {processes} cold, file cache", done, processes, delay)
