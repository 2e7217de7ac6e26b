"""A cache folder that is broken, or that another local user can reach (DESIGN 6), with real
``mdh-creds`` processes (the cache-hit fast path first) and, where the case needs one, a real
second user: the child drops to uid 65534 (CI runs the tests as root; elsewhere they skip).

Never a hang, never a read of something else, never a write through a planted link, never an
import of what was planted; a warning and no cache where the folder cannot be trusted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from conftest import Result, World

NOBUS = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}  # no keyring answers


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def plant_entry(world: World, make: str) -> Path:
    """Replace the credentials entry (after a first run) by a FIFO, a link or a huge file."""
    first = world.run("process")
    assert first.code == 0, first.err
    (entry,) = world.cache_dir.glob("credentials-*.bin")
    entry.unlink()
    if make == "fifo":
        os.mkfifo(entry)
    elif make == "link to /dev/zero":
        entry.symlink_to("/dev/zero")
    else:
        with open(entry, "wb") as handle:
            handle.truncate(1 << 30)  # 1 GiB, sparse
    return entry


@pytest.mark.timeout(120)
@pytest.mark.parametrize("make", ["fifo", "link to /dev/zero", "1 GiB file"])
def test_a_strange_entry_is_a_miss_for_process_and_status(world: World, make: str) -> None:
    entry = plant_entry(world, make)
    status = world.run("status", "--json", timeout=60)
    assert status.code == 1, status.err  # the health check: no valid credentials at hand
    states = [e["state"] for e in json.loads(status.out)["entries"] if e["kind"] == "credentials"]
    assert states == ["unreadable"]
    result = world.run("process", timeout=60)  # the fast path first, then the full command
    assert result.code == 0, result.err
    assert result.err == ""
    assert json.loads(result.out)["Version"] == 1
    assert world.emulator.count("exchange") == 2
    assert entry.is_file() and not entry.is_symlink() and entry.stat().st_size < 4096


@pytest.mark.timeout(120)
def test_fifos_in_place_of_every_file_of_the_folder_hang_nothing(world: World) -> None:
    """``mdh_cache = auto`` reads the marker, the keyring pin and index: FIFOs all."""
    world.write_profile(mdh_cache="auto")
    world.cache_dir.mkdir(mode=0o700)
    for name in ("auto-cache", "keyring-backend", "keyring-index.json"):
        os.mkfifo(world.cache_dir / name)
    for args in (["process"], ["status"], ["process"]):
        result = world.run(*args, timeout=60, **NOBUS)
        assert result.code == 0, result.err
    assert (world.cache_dir / "auto-cache").read_text() == "file\n"
    assert world.emulator.count("exchange") == 1  # the second process was a cache hit


@pytest.mark.timeout(120)
def test_fifos_in_place_of_the_key_and_the_aws_files_hang_nothing(world: World) -> None:
    fifo = world.tmp / "fifo"
    os.mkfifo(fifo)
    world.write_profile(mdh_private_key_file=str(fifo))
    result = world.run("process", timeout=60)
    assert result.code == 3 and "is not a regular file" in result.err, result.err
    result = world.run("status", timeout=60, AWS_SHARED_CREDENTIALS_FILE=str(fifo))
    assert "is not a regular file" in result.out
    result = world.run("process", timeout=60, AWS_CONFIG_FILE=str(fifo))
    assert result.code == 3, result.err  # no config file, as botocore sees it: nothing set


def test_a_planted_marker_link_is_replaced_not_written_through(world: World) -> None:
    precious = world.tmp / "precious"
    precious.write_text("mine\n")
    world.write_profile(mdh_cache="auto")
    world.cache_dir.mkdir(mode=0o700)
    (world.cache_dir / "auto-cache").symlink_to(precious)
    result = world.main("process", **NOBUS)
    assert result.code == 0, result.err
    assert precious.read_text() == "mine\n"
    marker = world.cache_dir / "auto-cache"
    assert not marker.is_symlink() and marker.read_text() == "file\n"


def test_leftover_temporary_files_are_swept_and_cleared(world: World) -> None:
    world.cache_dir.mkdir(mode=0o700)
    old, young = world.cache_dir / ".tmp-killed.part", world.cache_dir / ".tmp-writing.part"
    old.write_bytes(b"half an entry")
    young.write_bytes(b"being written")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert world.main("process").code == 0  # a write sweeps what a killed writer left
    assert not old.exists() and young.exists()
    result = world.main("clear", "--all")
    assert result.code == 0, result.err
    assert "1 leftover temporary file" in result.err
    assert not [p for p in world.cache_dir.iterdir() if p.name.startswith(".tmp-")]


# --- a real second user ---------------------------------------------------------------------

NOBODY = 65534
ATTACKER = 65533


@dataclass
class Victim:
    """An unprivileged user (uid 65534) with their own home, key, AWS config and cache."""

    world: World
    home: Path
    env: dict[str, str]

    def configure(self, **keys: str) -> None:
        settings = {**self.world.keys, "mdh_private_key_file": str(self.home / "key.pem"), **keys}
        config = self.home / "config"
        lines = ["[profile mdh]"] + [f"{k} = {v}" for k, v in settings.items()]
        config.write_text("\n".join(lines) + "\n")
        os.chown(config, NOBODY, NOBODY)

    def run(self, *args: str, **extra: str) -> Result:
        done = subprocess.run(
            [*as_nobody(), sys.executable, "-m", "mdh_creds", *args],
            env={**self.env, **extra},
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)


def unavailable(reason: str) -> NoReturn:
    """Skip here; in CI (``MDH_CREDS_REQUIRE_SECOND_USER=1``, set by ``.ci/run``) fail instead."""
    if os.environ.get("MDH_CREDS_REQUIRE_SECOND_USER") == "1":
        pytest.fail(f"the second-user tests must run in CI: {reason}")
    pytest.skip(reason)


def as_nobody() -> list[str]:
    """``setpriv`` (util-linux) drops to uid and gid 65534 with no supplementary group; it
    keeps root's reach until the exec, so the interpreter is found even under a folder that
    is closed to others (a Python installed in root's home)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("setpriv (util-linux) is needed to run a command as a second user")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def victim(world: World) -> Iterator[Victim]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        unavailable("a second user needs root to drop privileges to (CI runs the tests as root)")
    base = Path(tempfile.mkdtemp(prefix="mdh-creds-users-"))
    try:
        os.chmod(base, 0o755)  # pytest's own temporary folders are closed to other users
        home = base / "home"
        home.mkdir(mode=0o700)
        shutil.copyfile(world.account.key_file, home / "key.pem")
        os.chmod(home / "key.pem", 0o600)
        for path in (home, home / "key.pem"):
            os.chown(path, NOBODY, NOBODY)
        env = world.env(
            HOME=str(home),
            AWS_CONFIG_FILE=str(home / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
            XDG_CACHE_HOME=str(home / ".cache"),
            **NOBUS,
        )
        someone = Victim(world, home, env)
        probe = someone.run("--version")
        if probe.code != 0:
            unavailable(f"uid {NOBODY} cannot run this Python: {probe.err.strip()[-200:]}")
        yield someone
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_folder_another_user_controls_is_refused(victim: Victim) -> None:
    """The attacker owns a folder open to all, with a link where ``auto`` writes its marker,
    pointing at one of the victim's files: no cache, one warning, and the file untouched."""
    shared = victim.home.parent / "shared-cache"
    shared.mkdir()
    os.chmod(shared, 0o777)
    precious = victim.home / "precious"
    precious.write_text("mine\n")
    os.chown(precious, NOBODY, NOBODY)
    (shared / "auto-cache").symlink_to(precious)
    (shared / "keyring-backend").write_text("mdh_planted.Keyring\n")
    for path in (shared, shared / "keyring-backend"):
        os.chown(path, ATTACKER, ATTACKER)
    os.lchown(shared / "auto-cache", ATTACKER, ATTACKER)
    before = listing(shared)
    victim.configure(mdh_cache="auto", mdh_cache_dir=str(shared))
    for args in (["process"], ["status"]):
        result = victim.run(*args)
        assert result.code == 0, result.err
        assert f"belongs to another user (uid {ATTACKER})" in result.err + result.out
    assert precious.read_text() == "mine\n"
    assert listing(shared) == before
    assert victim.world.emulator.count("exchange") == 1


def test_an_open_folder_of_the_victims_own_is_refused_too(victim: Victim) -> None:
    cache = victim.home / "cache"
    cache.mkdir()
    os.chown(cache, NOBODY, NOBODY)
    os.chmod(cache, 0o777)
    victim.configure(mdh_cache="file", mdh_cache_dir=str(cache))
    result = victim.run("process")
    assert result.code == 0, result.err
    assert "other users can write to it (mode 777)" in result.err
    assert listing(cache) == []


def test_a_read_only_lock_folder_is_a_warning_and_no_cache(victim: Victim) -> None:
    cache = victim.home / "cache"
    (cache / "locks").mkdir(parents=True)
    for path in (cache, cache / "locks"):
        os.chown(path, NOBODY, NOBODY)
    os.chmod(cache, 0o700)
    os.chmod(cache / "locks", 0o500)
    victim.configure(mdh_cache="file", mdh_cache_dir=str(cache))
    for attempt in (1, 2):
        result = victim.run("process")
        assert result.code == 0, result.err
        assert json.loads(result.out)["Version"] == 1
        lines = result.err.splitlines()
        assert len(lines) == 1 and "cannot create lock files" in lines[0], result.err
        assert victim.world.emulator.count("exchange") == attempt
    assert listing(cache) == ["locks"]
