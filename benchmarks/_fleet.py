"""Row 5: cold fleets (8, 32, 64 machines) on one DynamoDB table, every request counted.

A machine is a ``mdh-creds process`` with its own cache folder and its own endpoint URL on the
counting proxy in front of moto (``mdh_creds.testing.proxy``), so each DynamoDB request is
attributed to its machine. Per size and trial: a fresh table, every machine started at once
with the emulator holding the exchange for ``--delay`` s, then a warm round of the same machines
(their local copies). Reported per size: exchanges, DynamoDB reads and writes per machine (mean;
the most any waiter wrote), latency p50/p95, the warm round's requests.

Targets: one exchange per trial; a waiter writes at most once (the winner's few extra writes are
shown apart); reads per machine at most 4; a warm round makes no request; requests per machine at
the largest size within 1.2x of those at the smallest.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from _hits import process_argv
from _measure import Command, run_together, summary, tail
from _report import Row, show
from _world import World

READS_LIMIT = 4.0
FLAT_LIMIT = 1.2


@dataclass(frozen=True)
class FleetTrial:
    """One cold fleet and its warm round, as the emulator and the proxy saw them."""

    machines: int
    exchanges: int
    reads: list[int]  # GetItem per machine
    writes: list[int]  # PutItem + DeleteItem per machine
    winners: int  # machines that wrote the entry
    waiter_writes_max: int
    latencies: list[float]
    warm_requests: int
    warm_latencies: list[float]
    identical: bool
    failures: list[str]

    @property
    def requests_per_machine(self) -> float:
        return (sum(self.reads) + sum(self.writes)) / self.machines

    def to_json(self) -> dict[str, object]:
        return {
            "machines": self.machines,
            "exchanges": self.exchanges,
            "reads_per_machine": statistics.mean(self.reads),
            "writes_per_machine": statistics.mean(self.writes),
            "reads": self.reads,
            "writes": self.writes,
            "winners": self.winners,
            "waiter_writes_max": self.waiter_writes_max,
            "requests_per_machine": self.requests_per_machine,
            "latency": summary(self.latencies),
            "warm_requests": self.warm_requests,
            "warm_latency": summary(self.warm_latencies),
            "identical_outputs": self.identical,
            "failures": self.failures,
        }


def _commands(world: World, table: str, names: list[str]) -> list[Command]:
    return [
        Command(
            name,
            process_argv(world),
            world.mdh_env(
                "dynamodb",
                world.cache_dir(name),
                table=table,
                endpoint=world.proxy.url_for(name),
            ),
        )
        for name in names
    ]


def _counts(world: World, names: list[str]) -> tuple[list[int], list[int], list[str]]:
    """Reads and writes per machine, and the machines that wrote the entry (the winners)."""
    records = {name: world.proxy.records(name) for name in names}
    reads = [sum(r.operation == "GetItem" for r in records[n]) for n in names]
    writes = [sum(r.is_write for r in records[n]) for n in names]
    winners = [n for n in names if any(r.is_write and not r.is_lease for r in records[n])]
    return reads, writes, winners


def run_fleet(world: World, machines: int, delay: float, trial: int) -> FleetTrial:
    """A cold fleet of ``machines`` on a fresh table, then its warm round."""
    table = f"mdh-creds-fleet-{machines}-{trial}"
    world.create_table(table)
    names = [f"fleet-{machines}-{trial}-{i}" for i in range(machines)]
    commands = _commands(world, table, names)
    world.proxy.reset()
    before = world.emulator.count("exchange")
    if delay > 0:
        world.emulator.delay("exchange", delay, times=1)
    cold = run_together(commands)
    exchanges = world.emulator.count("exchange") - before
    reads, writes, winners = _counts(world, names)
    waiters = [w for n, w in zip(names, writes, strict=True) if n not in winners]
    world.proxy.reset()
    warm = run_together(commands)
    outcomes = cold + warm
    failures = [f"exit {o.code}: {tail(o.stderr, 1)}" for o in outcomes if o.code != 0]
    return FleetTrial(
        machines=machines,
        exchanges=exchanges,
        reads=reads,
        writes=writes,
        winners=len(winners),
        waiter_writes_max=max(waiters, default=0),
        latencies=[o.seconds for o in cold],
        warm_requests=len(world.proxy.records()),
        warm_latencies=[o.seconds for o in warm],
        identical=len({o.stdout for o in outcomes}) == 1 and not failures,
        failures=failures[:3],
    )


def _size_row(machines: int, trials: list[FleetTrial], delay: float) -> Row:
    latencies = [s for t in trials for s in t.latencies]
    stats = summary(latencies)
    reads = statistics.mean(r for t in trials for r in t.reads)
    writes = statistics.mean(w for t in trials for w in t.writes)
    waiter_max = max(t.waiter_writes_max for t in trials)
    warm = sum(t.warm_requests for t in trials)
    text = (
        f"{reads:.2f} reads + {writes:.2f} writes /machine; "
        f"p50 {show(stats['median'], 's')} p95 {show(stats['p95'], 's')}"
    )
    note = (
        f"{machines} machines x {len(trials)} trial(s), exchange delayed {delay:g} s: "
        f"exchanges {[t.exchanges for t in trials]}, reads/machine {reads:.2f}, "
        f"writes/machine {writes:.2f} (a waiter at most {waiter_max}), "
        f"warm round requests {warm}, latency p50 {show(stats['median'], 's')} "
        f"p95 {show(stats['p95'], 's')}"
    )
    failures = [f for t in trials for f in t.failures]
    if failures:
        note += f"; failures: {failures[0]}"
    return Row(
        key=f"fleet.{machines}",
        label=f"5. fleet: {machines} cold machines, DynamoDB",
        ours=stats["median"],
        ours_text=text,
        target="1 exchange; waiter <= 1 write; <= 4 reads; warm 0",
        checks={
            "one_exchange_per_trial": all(t.exchanges == 1 for t in trials),
            "one_winner_per_trial": all(t.winners == 1 for t in trials),
            "waiters_write_at_most_once": waiter_max <= 1,
            "reads_per_machine_at_most_4": reads <= READS_LIMIT,
            "warm_round_makes_no_request": warm == 0,
            "identical_outputs": all(t.identical for t in trials),
        },
        note=note,
        details={
            "latency": stats,
            "requests_per_machine": statistics.mean(t.requests_per_machine for t in trials),
            "trials": [t.to_json() for t in trials],
        },
        samples={"ours": latencies},
    )


def _flat_row(rows: list[Row]) -> Row:
    small, large = rows[0], rows[-1]
    ours = float(large.details["requests_per_machine"])
    base = float(small.details["requests_per_machine"])
    return Row(
        key="fleet.flat",
        label=f"5. fleet: requests per machine, {large.key[6:]} vs {small.key[6:]} machines",
        unit="req",
        ours=ours,
        baseline=base,
        baseline_label=f"{small.key[6:]} machines",
        limit=FLAT_LIMIT,
        target=f"<= {FLAT_LIMIT:g}x",
        note=f"DynamoDB requests per machine: {base:.2f} at {small.key[6:]}, "
        f"{ours:.2f} at {large.key[6:]}",
    )


def measure_fleets(world: World, sizes: list[int], delay: float, trials: int) -> list[Row]:
    """A row per fleet size, and the flatness row (largest against smallest)."""
    rows = []
    for machines in sizes:
        done = [run_fleet(world, machines, delay, trial) for trial in range(trials)]
        rows.append(_size_row(machines, done, delay))
    if len(rows) > 1:
        rows.append(_flat_row(rows))
    return rows
