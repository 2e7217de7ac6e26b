"""The file backend and its locks: permissions, unwritable folders, crash safety, lock files."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mdh_creds.cache.backends import select
from mdh_creds.cache.file import FileCache, pack_entry
from mdh_creds.cache.locks import FileLocks
from mdh_creds.cache.stored import CacheKey
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable, LockTimeout

KEY_MATERIAL = "file test key material"
SEALER = Sealer(KEY_MATERIAL.encode())
KEY = CacheKey.for_identity({"account": "alpha"}, "credentials")
OTHER = CacheKey.for_identity({"account": "beta"}, "credentials")
LATER = datetime.now(timezone.utc) + timedelta(hours=1)

WRITER = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from mdh_creds.cache.file import FileCache
from mdh_creds.crypto import Sealer
from mdh_creds.cache.stored import CacheKey

cache = FileCache(Path(sys.argv[1]))
key = CacheKey(sys.argv[2], sys.argv[3])
sealer = Sealer(sys.argv[4].encode())
expires = datetime.now(timezone.utc) + timedelta(hours=1)
n = 0
while True:
    cache.save(key, sealer.seal(key, {"n": n, "pad": "x" * (n * 37 % 9000)}), expires)
    if n == 0:
        print("ready", flush=True)
    n += 1
"""

HOLDER = """
import sys, time
from pathlib import Path
from mdh_creds.cache.locks import FileLocks
from mdh_creds.cache.stored import CacheKey

with FileLocks(Path(sys.argv[1])).lock(CacheKey(sys.argv[2], sys.argv[3]), 5):
    print("held", flush=True)
    time.sleep(60)
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_folder_and_entries_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "cache"
    cache = FileCache(folder)
    cache.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    with cache.lock(KEY, 1):
        lock_file = FileLocks(folder).path_for(KEY.name)
        assert lock_file.exists()
        assert _mode(lock_file) == 0o600
    assert _mode(folder) == 0o700
    assert _mode(folder / "locks") == 0o700
    assert _mode(cache.path_for(KEY)) == 0o600
    assert cache.path_for(KEY).name == f"{KEY.name}.bin"


def test_open_existing_folder_is_warned_about_not_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o755)
    with caplog.at_level(logging.WARNING):
        FileCache(folder).save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    assert _mode(folder) == 0o755
    assert "readable by others" in caplog.text


def test_folder_under_a_file_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(CacheUnavailable, match="mdh_cache_dir") as caught:
        select("file", folder=blocker / "cache")
    assert str(blocker / "cache") in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_read_only_folder_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(CacheUnavailable, match="mdh_cache_dir"):
        FileCache(folder)


def test_folder_gone_at_save_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = FileCache(folder)
    shutil.rmtree(folder)
    folder.write_text("now a file")
    with pytest.raises(CacheUnavailable, match="mdh_cache_dir") as caught:
        cache.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    assert str(folder) in str(caught.value)
    with pytest.raises(CacheUnavailable, match="mdh_cache_dir"):
        cache.load(KEY)


def test_unreadable_shapes_are_misses(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.path_for(KEY).write_bytes(b"\x00" * 5)
    assert cache.load(KEY) is None
    cache.path_for(KEY).write_bytes(pack_entry(b"x" * (2 << 20), LATER))
    assert cache.load(KEY) is None
    cache.path_for(KEY).unlink()
    cache.path_for(KEY).mkdir()
    assert cache.load(KEY) is None


def test_list_keys_skips_foreign_and_temporary_files(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.save(KEY, SEALER.seal(KEY, {"v": 1}), LATER)
    for name in (".tmp-abc.part", "notes.bin", "credentials-xyz.bin", f"{OTHER.name}.bin.part"):
        (tmp_path / name).write_bytes(b"junk")
    (tmp_path / f".tmp-{OTHER.name}.bin").write_bytes(b"junk")
    assert list(cache.list_keys()) == [KEY]


def test_header_keeps_no_secret(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    sealed = SEALER.seal(KEY, {"v": 1})
    cache.save(KEY, sealed, LATER)
    stored = cache.path_for(KEY).read_bytes()
    assert stored.endswith(sealed)
    assert len(stored) - len(sealed) == 12


@pytest.mark.timeout(60)
def test_sigkill_during_writes_never_leaves_an_unreadable_entry(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = FileCache(folder)
    args = [sys.executable, "-c", WRITER, str(folder), KEY.digest, KEY.kind, KEY_MATERIAL]
    rounds, deadline = 0, time.monotonic() + 10
    while rounds < 15 and time.monotonic() < deadline:
        writer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"ready\n", writer.stderr
        time.sleep(random.uniform(0, 0.08))
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=10)
        rounds += 1
        opened = SEALER.open(KEY, cache.load(KEY))
        assert opened is not None
        assert isinstance(opened["n"], int)
        assert len(opened["pad"]) == opened["n"] * 37 % 9000
    assert rounds >= 5
    assert list(cache.list_keys()) == [KEY]
    strays = [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert len(strays) <= rounds
    assert all(_mode(p) == 0o600 for p in strays)


def _try_lock(locks: FileLocks, key: CacheKey, timeout: float) -> str:
    outcome: list[str] = []

    def run() -> None:
        try:
            with locks.lock(key, timeout):
                outcome.append("acquired")
        except LockTimeout:
            outcome.append("timeout")

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout + 20)
    return outcome[0]


def test_lock_is_exclusive_between_threads_and_instances(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path)
    with locks.lock(KEY, 1):
        assert _try_lock(locks, KEY, 0.2) == "timeout"
        assert _try_lock(FileLocks(tmp_path), KEY, 0.2) == "timeout"
        assert _try_lock(locks, OTHER, 1) == "acquired"
    assert _try_lock(FileLocks(tmp_path), KEY, 1) == "acquired"


def test_lock_is_not_reentrant_in_one_thread(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path)
    with locks.lock(KEY, 1), pytest.raises(LockTimeout), locks.lock(KEY, 0.2):
        pass


def test_lock_timeout_message_names_the_file(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path)
    with locks.lock(KEY, 1), pytest.raises(LockTimeout) as caught, locks.lock(KEY, 0):
        pass
    message = str(caught.value)
    assert str(locks.path_for(KEY.name)) in message
    assert "another mdh-creds process holds it" in message
    assert "remove the file if no mdh-creds process is running" in message


@pytest.mark.timeout(60)
def test_lock_of_a_killed_holder_is_released(tmp_path: Path) -> None:
    args = [sys.executable, "-c", HOLDER, str(tmp_path), KEY.digest, KEY.kind]
    holder = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"held\n"
    locks = FileLocks(tmp_path)
    assert _try_lock(locks, KEY, 0.2) == "timeout"
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=10)
    start = time.monotonic()
    assert _try_lock(locks, KEY, 5) == "acquired"
    assert time.monotonic() - start < 2
