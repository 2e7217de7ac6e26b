"""The cache as users meet it: one exchange per window however many processes ask, nothing
readable at rest, tampering is a miss, and a cache hit imports neither requests nor boto3."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import HeldFirst, World, wait_for
from mdh_creds.testing import sequence_minter

HEAVY = ("requests", "jwt", "boto3", "botocore")


def start(world: World, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mdh_creds", "process", *args],
        env=world.env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    outputs = []
    deadline = time.monotonic() + timeout
    for proc in procs:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


@pytest.mark.slow
@pytest.mark.xdist_group("process-storms")  # dozens of processes: never two storms at once
def test_storm_of_32_processes_does_one_exchange(world: World) -> None:
    world.emulator.minter = sequence_minter()
    world.emulator.delay("exchange", 0.5)
    procs = [start(world) for _ in range(32)]
    outputs = finish(procs)
    assert world.emulator.count("exchange") == 1
    assert world.emulator.count("token") <= 1
    assert len(set(outputs)) == 1
    assert json.loads(outputs[0])["AccessKeyId"] == "ASIA" + "1".zfill(16)


@pytest.fixture
def fleet(world: World, moto: Any, dynamodb_table: Any) -> World:
    _client, table = dynamodb_table
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=table, mdh_cache_dir=None)
    world.extra_env.update(moto.env)
    return world


@pytest.mark.slow
def test_lease_holder_killed_mid_exchange_is_taken_over(fleet: World) -> None:
    fleet.write_profile(mdh_timeout="2", mdh_retries="0")  # a short lease: about 9 s
    held = HeldFirst()  # the holder: stuck inside the exchange until released
    in_exchange, release = held.entered, held.release
    fleet.emulator.minter = held
    try:
        holder = start(fleet, XDG_CACHE_HOME=str(fleet.tmp / "holder"))
        assert in_exchange.wait(30), "the holder never reached the exchange"
        holder.send_signal(signal.SIGKILL)  # holding the lease, in the middle of the exchange
        assert holder.wait(timeout=10) == -signal.SIGKILL
        others = [start(fleet, XDG_CACHE_HOME=str(fleet.tmp / f"m{n}")) for n in range(3)]
        outputs = finish(others, timeout=60)
    finally:
        release.set()
    assert len(set(outputs)) == 1
    assert json.loads(outputs[0])["AccessKeyId"] == "ASIA" + "2".zfill(16)


def stored_blobs(world: World, backend: str, moto: Any = None) -> list[bytes]:
    if backend == "file":
        return [p.read_bytes() for p in world.cache_dir.rglob("*") if p.is_file()]
    if backend == "dynamodb":
        client = boto3.client("dynamodb", endpoint_url=moto.url, region_name="us-east-1")
        items = client.scan(TableName="mdh-creds-cache")["Items"]
        return [json.dumps(item, default=repr).encode() for item in items] + [
            item["entry"]["B"] for item in items if "entry" in item
        ]
    import keyring

    blobs = []
    for name in os.listdir(world.cache_dir):
        if name.endswith(".json") or name == "keyring-backend":
            blobs.append((world.cache_dir / name).read_bytes())
    index = json.loads((world.cache_dir / "keyring-index.json").read_text())
    names = index if isinstance(index, list) else list(index)
    for name in names:
        password = keyring.get_password("mdh-creds", name)
        assert password, name
        blobs += [password.encode(), base64.b64decode(password)]
    return blobs


@pytest.mark.parametrize("backend", ["file", "keyring", "dynamodb"])
def test_no_plaintext_at_rest(world: World, backend: str, request: pytest.FixtureRequest) -> None:
    moto = None
    if backend == "dynamodb":
        moto = request.getfixturevalue("moto")
        request.getfixturevalue("dynamodb_table")
        world.extra_env.update(moto.env)
    if backend == "keyring":
        world.extra_env.update(request.getfixturevalue("keyring_env"))
    world.write_profile(mdh_cache=backend, mdh_scope=f"api {uuid.uuid4().hex}")
    assert world.run("token").code == 0
    result = world.run("process")
    assert result.code == 0, result.err
    creds = json.loads(result.out)
    token = world.emulator.requests[-1].headers["Authorization"]
    blobs = stored_blobs(world, backend, moto)
    assert blobs, "nothing was cached"
    for secret in (creds["SecretAccessKey"], creds["SessionToken"], token, creds["AccessKeyId"]):
        for blob in blobs:
            assert secret.encode() not in blob
            assert base64.b64encode(secret.encode())[:24] not in blob


def entry_files(world: World) -> list[Path]:
    return sorted(world.cache_dir.glob("credentials-*.bin"))


@pytest.mark.parametrize("damage", ["flip-first", "flip-middle", "flip-last", "truncate", "empty"])
def test_tampered_entry_is_a_miss_and_a_fresh_exchange(world: World, damage: str) -> None:
    assert world.main("process").code == 0
    (path,) = entry_files(world)
    data = bytearray(path.read_bytes())
    position = {"flip-first": 0, "flip-middle": len(data) // 2, "flip-last": len(data) - 1}
    if damage in position:
        data[position[damage]] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    result = world.main("process")
    assert result.code == 0, result.err
    assert world.emulator.count("exchange") == 2
    assert "Traceback" not in result.err


def test_entry_copied_under_another_identity_does_not_open(world: World) -> None:
    assert world.main("process").code == 0
    world.write_profile(mdh_scope="api other")  # another identity: another entry key
    assert world.main("process").code == 0
    other, current = sorted(entry_files(world), key=lambda p: p.stat().st_mtime_ns)
    current.write_bytes(other.read_bytes())  # the first identity's entry under the current key
    assert world.main("process").code == 0
    assert world.emulator.count("exchange") == 3


def test_cache_hit_imports_no_heavy_module(world: World) -> None:
    assert world.run("process").code == 0
    probe = (
        "import sys; from mdh_creds.cli.main import main; code = main(['process']); "
        f"sys.stderr.write(repr(sorted(m for m in {HEAVY!r} if m in sys.modules))); "
        "raise SystemExit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[]"
    assert world.emulator.count("exchange") == 1


def test_no_cache_and_force_refresh(world: World) -> None:
    assert world.main("process").code == 0
    assert world.main("process").code == 0
    assert world.emulator.count("exchange") == 1
    assert world.main("process", "--force-refresh").code == 0
    assert world.emulator.count("exchange") == 2
    assert world.main("process", "--no-cache").code == 0
    assert world.emulator.count("exchange") == 3
    assert world.main("process").code == 0
    assert world.emulator.count("exchange") == 3  # --no-cache wrote nothing either


def test_status_shows_entries_and_clear_removes_them(world: World) -> None:
    assert world.main("process").code == 0
    status = json.loads(world.main("status", "--json").out)
    assert status["cache"]["backend"] == "file"
    states = {entry["kind"]: entry["state"] for entry in status["entries"]}
    assert states == {"credentials": "fresh", "token": "fresh"}
    result = world.main("clear")
    assert result.code == 0 and "removed 2" in result.err
    assert json.loads(world.main("status", "--json").out)["entries"] == []


def test_auto_prefers_a_real_keyring(world: World, keyring_env: dict[str, str]) -> None:
    # The Secret Service outlives each test: a scope of its own keeps this identity's entries apart.
    world.write_profile(mdh_cache="auto", mdh_scope=f"api {uuid.uuid4().hex}")
    world.extra_env.update(keyring_env)
    result = world.run("process", "--debug")
    assert result.code == 0, result.err
    status = json.loads(world.run("status", "--json").out)
    assert status["cache"]["backend"] == "keyring", result.err
    assert [e["state"] for e in status["entries"]] == ["fresh", "fresh"]


def test_auto_falls_back_to_the_file_cache_without_a_keyring(world: World) -> None:
    world.write_profile(mdh_cache="auto")
    world.extra_env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
    result = world.run("process")
    assert result.code == 0, result.err
    assert result.err == ""  # auto falling back is not worth a warning
    status = json.loads(world.run("status", "--json").out)
    assert status["cache"]["backend"] == "file"
    assert world.run("process").code == 0
    assert world.emulator.count("exchange") == 1


@pytest.mark.slow
def test_a_cached_token_the_explorer_refuses_is_replaced_once(world: World) -> None:
    world.emulator.credential_lifetime = 4  # credentials stale after ~2.7 s; the token lasts
    assert world.main("process").code == 0
    aged = ("stale", "expired")  # either way due for a refresh
    wait_for(lambda: world.state() in aged, "the cached credentials to age", every=0.1)
    world.emulator.fail("exchange", 401, times=1)  # e.g. the token was revoked
    result = world.main("process")
    assert result.code == 0, result.err
    assert world.emulator.count("token") == 2
    assert world.emulator.count("exchange") == 3
    assert world.main("token").out.strip() == world.emulator.requests[-1].headers["Authorization"]
