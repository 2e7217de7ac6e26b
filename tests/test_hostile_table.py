"""A shared table no item can poison: items planted by a faulty or hostile writer (a lease that
never lapses, a lease from a clock 10 minutes fast, a malformed entry, a replayed older sealed
entry, another profile's entry) each cost the fleet at most one lease length of delay and at most
one exchange, and the machine that replaces the item reports it once.

Machines are real processes on the counting proxy in front of moto (``test_fleet``), with a lease
of ``LEASE`` seconds; their JSON logs say how long each waited and what it replaced.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from conftest import HeldFirst, World
from mdh_creds.crypto import Sealer
from mdh_creds.factory import build_broker
from mdh_creds.settings.model import parse_settings
from servers import TABLE, MotoServer
from test_fleet import Fleet, key_id, open_fleet

LEASE = 2.0
MACHINES = 4
FAR = str(int(time.time()) + 10 * 365 * 86400)
#: A machine whose lease clock runs 10 minutes fast.
FAST_CLOCK = (
    "import sys, time; import mdh_creds.cache.lease as lease; "
    "lease.LEASE_SECONDS = float(sys.argv.pop(1)); "
    "lease.Leases._now = lambda self: time.time() + 600; "
    "from mdh_creds.cli.console import main; raise SystemExit(main())"
)


@pytest.fixture
def fleet(world: World, moto: MotoServer, dynamodb_table: Any) -> Iterator[Fleet]:
    with open_fleet(world, moto, dynamodb_table) as opened:
        yield opened


def entry_names(fleet: Fleet) -> tuple[str, str]:
    """The table names of this profile's credentials and token entries."""
    env = fleet.machine_env("setup")
    broker = build_broker(parse_settings(env), environ=env, cache=None)
    return broker.cred_key.name, broker.token_key.name


def run_fleet(fleet: Fleet, **env: str) -> dict[str, list[dict[str, Any]]]:
    """``MACHINES`` machines at once, JSON logs on; each machine's log events (all exit 0, the
    same credentials)."""
    env = {"MDH_LOG_FORMAT": "json", **env}
    procs = {f"m{n}": fleet.start(f"m{n}", lease=LEASE, **env) for n in range(MACHINES)}
    logs, outputs = {}, set()
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, f"{name}: {err}"
        outputs.add(key_id(out))
        logs[name] = [json.loads(line) for line in err.splitlines()]
    assert len(outputs) == 1, [e["message"] for log in logs.values() for e in log]
    return logs


def events(logs: Mapping[str, list[dict[str, Any]]], event: str) -> list[dict[str, Any]]:
    return [e for log in logs.values() for e in log if e["event"] == event]


def assert_one_exchange_and_one_report(fleet: Fleet, logs: Any, item: str) -> None:
    assert fleet.world.emulator.count("exchange") == 1
    repairs = events(logs, "repair")
    assert len(repairs) == 1, repairs
    assert repairs[0]["item"] == item and repairs[0]["level"] == "WARNING"
    assert TABLE in repairs[0]["message"]


def assert_waited_at_most_one_lease(logs: Any) -> None:
    """The machine that takes the lease over does so one lease length after it first saw it;
    the others find the entry it stores at their next read (``LeaseTiming.poll_max`` apart)."""
    takeovers = [e["seconds"] for e in events(logs, "takeover")]
    assert len(takeovers) == 1 and takeovers[0] <= LEASE + 1.0, takeovers
    waits = [e["seconds"] for e in events(logs, "lease wait")]
    assert all(wait <= LEASE + 4.0 + 2.0 for wait in waits), waits


def plant(fleet: Fleet, dynamodb_table: Any, item: dict[str, Any]) -> None:
    client, table = dynamodb_table
    client.put_item(TableName=table, Item=item)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "until", [{"lease_until": {"N": FAR}}, {}, {"lease_until": {"S": "forever"}}]
)
def test_a_lease_that_never_lapses_costs_one_lease_length(
    fleet: Fleet, dynamodb_table: Any, until: dict[str, Any]
) -> None:
    credentials, _ = entry_names(fleet)
    lease = "lease#" + credentials
    plant(fleet, dynamodb_table, {"pk": {"S": lease}, "owner": {"S": "stuck"}, **until})
    started = time.monotonic()
    logs = run_fleet(fleet)
    assert time.monotonic() - started < 30  # not the lock timeout of about 150 s
    assert_one_exchange_and_one_report(fleet, logs, lease)
    takeovers = events(logs, "takeover")
    assert takeovers and all(e["seconds"] <= LEASE + 1.0 for e in takeovers), takeovers


@pytest.mark.timeout(120)
def test_a_holder_on_a_clock_10_minutes_fast_costs_one_lease_length_once_it_dies(
    fleet: Fleet,
) -> None:
    held = HeldFirst()
    in_exchange, release = held.entered, held.release
    fleet.world.emulator.minter = held
    argv = [sys.executable, "-c", FAST_CLOCK, str(LEASE), "process"]
    env = fleet.machine_env("fast")
    holder = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert in_exchange.wait(30), "the fast holder never reached the exchange"
        holder.send_signal(signal.SIGKILL)  # its lease says: 10 minutes more
        assert holder.wait(timeout=10) == -signal.SIGKILL
        logs = run_fleet(fleet)
    finally:
        release.set()
    assert_waited_at_most_one_lease(logs)
    assert len(events(logs, "repair")) == 1
    assert fleet.world.emulator.successes("exchange") == 1  # the dead holder's never answered


@pytest.mark.timeout(120)
def test_a_live_holder_on_a_fast_clock_is_waited_for_not_taken_over(fleet: Fleet) -> None:
    # Two lease lengths (renewed six times meanwhile), inside the profile's 5 s HTTP timeout.
    fleet.world.emulator.delay("exchange", 2 * LEASE)
    argv = [sys.executable, "-c", FAST_CLOCK, str(LEASE), "process"]
    holder = subprocess.Popen(
        argv, env=fleet.machine_env("fast"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while fleet.proxy.counts("fast")["PutItem"] < 3:  # the token's lease, then the entry's
        assert time.monotonic() < deadline and holder.poll() is None
        time.sleep(0.02)
    logs = run_fleet(fleet)
    assert holder.wait(timeout=60) == 0
    messages = [(n, e["message"]) for n, log in logs.items() for e in log]
    assert fleet.world.emulator.count("exchange") == 1, messages
    assert events(logs, "takeover") == [] and events(logs, "repair") == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "attributes",
    [
        {"entry": {"S": "not sealed"}, "expires_at": {"N": FAR}},
        {"entry": {"B": b"MDH1 truncated"}},
        {"expires_at": {"S": "never"}},
    ],
    ids=["text", "no-expiry", "nothing"],
)
def test_a_malformed_entry_is_replaced_with_one_exchange(
    fleet: Fleet, dynamodb_table: Any, attributes: dict[str, Any]
) -> None:
    credentials, _ = entry_names(fleet)
    plant(fleet, dynamodb_table, {"pk": {"S": credentials}, **attributes})
    logs = run_fleet(fleet)
    assert_one_exchange_and_one_report(fleet, logs, credentials)
    again = run_fleet(fleet)  # the table now holds a sound entry: nothing to repair
    assert events(again, "repair") == [] and fleet.world.emulator.count("exchange") == 1


@pytest.mark.timeout(120)
def test_another_profiles_entry_is_replaced_with_one_exchange(
    fleet: Fleet, dynamodb_table: Any
) -> None:
    credentials, _ = entry_names(fleet)
    key = build_broker(
        parse_settings(fleet.machine_env("x")), environ=fleet.machine_env("x"), cache=None
    ).cred_key
    sealed = Sealer(b"another profile's private key").seal(key, {"AccessKeyId": "ASIAOTHER"})
    plant(
        fleet,
        dynamodb_table,
        {"pk": {"S": credentials}, "entry": {"B": sealed}, "expires_at": {"N": FAR}},
    )
    logs = run_fleet(fleet)
    assert_one_exchange_and_one_report(fleet, logs, credentials)


@pytest.mark.timeout(120)
def test_a_replayed_older_entry_is_replaced_with_one_exchange(
    fleet: Fleet, dynamodb_table: Any
) -> None:
    client, table = dynamodb_table
    credentials, _ = entry_names(fleet)
    emulator = fleet.world.emulator
    emulator.credential_lifetime = 3
    first = fleet.start("first").communicate(timeout=60)[0]
    older = client.get_item(TableName=table, Key={"pk": {"S": credentials}})["Item"]["entry"]
    emulator.credential_lifetime = 3600
    deadline = time.monotonic() + 10
    while json.loads(first)["Expiration"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # The older sealed bytes put back, claiming to expire in ten years: newer writes would fail
    # "expires_at < :new" forever.
    plant(
        fleet, dynamodb_table, {"pk": {"S": credentials}, "entry": older, "expires_at": {"N": FAR}}
    )
    before = emulator.count("exchange")
    logs = run_fleet(fleet)
    assert emulator.count("exchange") - before == 1
    repairs = events(logs, "repair")
    assert [e["item"] for e in repairs] == [credentials]
