"""A fleet on one DynamoDB table: machines are real processes, each with its own cache folder and
its own endpoint URL on a counting proxy in front of moto, so every DynamoDB request is counted
per machine.

One exchange however many machines start at once, at most one write per waiter, the same
credentials everywhere; a warm round costs no DynamoDB request at all (local copies); a lease is
renewed while a slow exchange runs, taken over when its holder dies, and a late writer with older
credentials never replaces newer ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import HeldFirst, World, wait_for
from mdh_creds import __version__
from mdh_creds.testing import MintRequest, sequence_minter
from mdh_creds.testing.proxy import CountingProxy
from servers import MotoServer

AGENT = f"mdh-creds/{__version__}"
#: Runs ``mdh-creds`` (the console script's entry point) with a lease of argv[1] seconds.
SHORT_LEASE = (
    "import sys; import mdh_creds.cache.lease as lease; "
    "lease.LEASE_SECONDS = float(sys.argv.pop(1)); "
    "from mdh_creds.cli.console import main; raise SystemExit(main())"
)


@dataclass
class Fleet:
    world: World
    proxy: CountingProxy

    def machine_env(self, name: str) -> dict[str, str]:
        """A machine: its own cache folder, its own label on the proxy."""
        return self.world.env(
            XDG_CACHE_HOME=str(self.world.tmp / "machines" / name),
            AWS_ENDPOINT_URL=self.proxy.url_for(name),
        )

    def start(self, name: str, lease: float | None = None, **env: str) -> subprocess.Popen[str]:
        if lease is None:
            argv = [sys.executable, "-m", "mdh_creds", "process"]
        else:
            argv = [sys.executable, "-c", SHORT_LEASE, str(lease), "process"]
        return subprocess.Popen(
            argv,
            env={**self.machine_env(name), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def writes(self, name: str) -> int:
        return sum(1 for r in self.proxy.records(name) if r.is_write)

    def wrote_the_entry(self, name: str) -> bool:
        return any(r.operation == "PutItem" and not r.is_lease for r in self.proxy.records(name))


@contextlib.contextmanager
def open_fleet(world: World, moto: MotoServer, dynamodb_table: Any) -> Iterator[Fleet]:
    """The world's profile on the DynamoDB table, each machine on the counting proxy."""
    _client, table = dynamodb_table
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=table, mdh_cache_dir=None)
    world.extra_env.update(moto.env)
    world.emulator.minter = sequence_minter()
    with CountingProxy(moto.url) as proxy:
        yield Fleet(world, proxy)


@pytest.fixture
def fleet(world: World, moto: MotoServer, dynamodb_table: Any) -> Iterator[Fleet]:
    with open_fleet(world, moto, dynamodb_table) as opened:
        yield opened


def finish(procs: Mapping[str, subprocess.Popen[str]], timeout: float = 120) -> dict[str, str]:
    outputs = {}
    deadline = time.monotonic() + timeout
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, f"{name}: {err}"
        outputs[name] = out
    return outputs


def key_id(output: str) -> str:
    return str(json.loads(output)["AccessKeyId"])


@pytest.mark.slow
@pytest.mark.xdist_group("process-storms")  # dozens of processes: never two storms at once
@pytest.mark.timeout(240)
def test_24_machines_one_exchange_one_write_per_waiter_then_a_warm_round_costs_nothing(
    fleet: Fleet,
) -> None:
    fleet.world.emulator.delay("exchange", 0.5)
    names = [f"m{n:02d}" for n in range(24)]
    cold = finish({name: fleet.start(name) for name in names})
    assert fleet.world.emulator.count("exchange") == 1
    assert {key_id(out) for out in cold.values()} == {"ASIA" + "1".zfill(16)}
    winners = [name for name in names if fleet.wrote_the_entry(name)]
    assert len(winners) == 1, winners
    for name in names:
        if name not in winners:
            assert fleet.writes(name) <= 1, fleet.proxy.records(name)
            assert fleet.proxy.counts(name)["DeleteItem"] == 0
    assert fleet.proxy.labels() <= set(names)
    assert all(AGENT in r.user_agent.split() for r in fleet.proxy.records())

    fleet.proxy.reset()
    warm = finish({name: fleet.start(name) for name in names})
    assert warm == cold
    assert fleet.proxy.records() == []  # no DynamoDB request at all: the local copies served
    assert fleet.world.emulator.count("exchange") == 1


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_lease_outlived_by_its_exchange_is_renewed_and_nobody_exchanges_twice(
    fleet: Fleet,
) -> None:
    fleet.world.emulator.delay("exchange", 3.0)  # three lease lengths
    holder = fleet.start("holder", lease=1.0)
    wait_for(lambda: fleet.proxy.counts("holder")["PutItem"] >= 2, "the holder's two leases")
    waiters = {f"w{n}": fleet.start(f"w{n}", lease=1.0) for n in range(3)}
    outputs = finish({"holder": holder, **waiters})
    assert fleet.world.emulator.count("exchange") == 1
    assert len(set(outputs.values())) == 1
    renewals = [
        r
        for r in fleet.proxy.records("holder")
        if r.operation == "PutItem" and r.key.startswith("lease#credentials-")
    ]
    assert len(renewals) >= 4  # taken once, renewed every third of a second for 3 s
    for name in waiters:
        assert fleet.writes(name) <= 1, fleet.proxy.records(name)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_killed_holder_is_taken_over_once_its_lease_lapses(fleet: Fleet) -> None:
    held = HeldFirst()
    in_exchange, release = held.entered, held.release
    fleet.world.emulator.minter = held
    try:
        holder = fleet.start("holder", lease=1.0)
        assert in_exchange.wait(30), "the holder never reached the exchange"
        holder.send_signal(signal.SIGKILL)  # holding the lease, in the middle of the exchange
        assert holder.wait(timeout=10) == -signal.SIGKILL
        others = {f"m{n}": fleet.start(f"m{n}", lease=1.0) for n in range(3)}
        outputs = finish(others, timeout=60)
    finally:
        release.set()
    assert {key_id(out) for out in outputs.values()} == {"ASIA" + "2".zfill(16)}
    # The dead holder's exchange is recorded once the emulator gives up on it: two, not more.
    wait_for(lambda: fleet.world.emulator.count("exchange") >= 2, "the stuck exchange to end")
    assert fleet.world.emulator.count("exchange") == 2


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_late_writer_with_older_credentials_does_not_replace_newer_ones(fleet: Fleet) -> None:
    emulator, held = fleet.world.emulator, HeldFirst(hold=60)
    in_exchange, release = held.entered, held.release
    emulator.minter = held
    # Its HTTP wait must outlast the freeze: a read timed out on waking would retry, and the
    # retry is a new (third) exchange, not the late old answer this test is about.
    late = fleet.start("late", lease=1.0, MDH_TIMEOUT="60")
    try:
        assert in_exchange.wait(30), "the first writer never reached the exchange"
        os.kill(late.pid, signal.SIGSTOP)  # frozen: its lease lapses unrenewed
        newer = finish({"prompt": fleet.start("prompt", lease=1.0)}, timeout=60)["prompt"]
        assert key_id(newer) == "ASIA" + "2".zfill(16)
        # The late writer's credentials expire first: they are the older ones.
        emulator.credential_lifetime = 1800
    finally:
        os.kill(late.pid, signal.SIGCONT)
        release.set()
    older = finish({"late": late}, timeout=60)["late"]
    assert key_id(older) == "ASIA" + "1".zfill(16)
    assert json.loads(older)["Expiration"] < json.loads(newer)["Expiration"]
    assert fleet.wrote_the_entry("late")  # it tried, conditionally
    again = finish({"another": fleet.start("another"), "late": fleet.start("late")})
    assert set(again.values()) == {newer}
    assert emulator.count("exchange") == 2


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_waiter_logs_its_lease_wait_and_the_holder_its_exchange(fleet: Fleet) -> None:
    plain, release = sequence_minter(), threading.Event()

    def held_until_the_waiter_waits(request: MintRequest) -> Mapping[str, str]:
        release.wait(60)
        return plain(request)

    def the_waiter_met_the_lease() -> bool:
        return any(
            r.operation == "PutItem" and r.key.startswith("lease#credentials-")
            for r in fleet.proxy.records("waiter")
        )

    fleet.world.emulator.minter = held_until_the_waiter_waits
    holder = fleet.start("holder", MDH_LOG_FORMAT="json")
    try:
        wait_for(lambda: fleet.proxy.counts("holder")["PutItem"] >= 2, "the holder's leases")
        waiter = fleet.start("waiter", MDH_LOG_FORMAT="json")
        wait_for(the_waiter_met_the_lease, "the waiter to find the lease held", timeout=60)
    finally:
        release.set()
    logs = {}
    for name, proc in (("holder", holder), ("waiter", waiter)):
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        logs[name] = [json.loads(line) for line in err.splitlines()]
    holder_events = [e["event"] for e in logs["holder"]]
    assert holder_events.count("exchange") == 2 and "lease wait" not in holder_events
    waits = [e for e in logs["waiter"] if e["event"] == "lease wait"]
    assert len(waits) == 1 and waits[0]["backend"] == "dynamodb"
    assert 0 < waits[0]["seconds"] < 60
    assert "exchange" not in [e["event"] for e in logs["waiter"]]


def test_a_throttled_lease_costs_the_cache_not_the_credentials(fleet: Fleet) -> None:
    fleet.proxy.throttle = lambda request: request.operation == "PutItem" and request.is_lease
    out, err = fleet.start("one").communicate(timeout=60)
    assert key_id(out) == "ASIA" + "1".zfill(16)
    assert err.count("\n") == 1 and "is throttling requests" in err  # one warning
    assert fleet.world.emulator.count("exchange") == 1
    assert fleet.proxy.counts("one")["PutItem"] >= 1  # the lease was tried, and refused


def test_status_shows_both_tiers_and_clear_removes_both(fleet: Fleet, dynamodb_table: Any) -> None:
    world = fleet.world
    env = fleet.machine_env("one")
    extra = {k: env[k] for k in ("XDG_CACHE_HOME", "AWS_ENDPOINT_URL")}
    assert world.main("process", **extra).code == 0
    local = Path(extra["XDG_CACHE_HOME"]) / "mdh-creds" / "dynamodb"
    assert sorted(p.name.split("-")[0] for p in local.glob("*.bin")) == ["credentials", "token"]
    status = world.main("status", "--json", **extra)
    assert status.code == 0, status.err
    report = json.loads(status.out)
    tiers = sorted((e["tier"], e["kind"], e["state"]) for e in report["entries"])
    assert tiers == [
        ("dynamodb", "credentials", "fresh"),
        ("dynamodb", "token", "fresh"),
        ("local", "credentials", "fresh"),
        ("local", "token", "fresh"),
    ]
    assert "local copies in" in report["cache"]["where"]
    text = world.main("status", **extra).out
    assert "credentials (local)" in text and "credentials (dynamodb)" in text
    cleared = world.main("clear", **extra)
    assert cleared.code == 0 and "removed 2 cached entries" in cleared.err
    assert list(local.glob("*.bin")) == []
    client, table = dynamodb_table
    names = [item["pk"]["S"] for item in client.scan(TableName=table)["Items"]]
    assert [n for n in names if not n.startswith("lease#")] == []
