"""The one reader of files in the cache folder: bounded, no link followed, regular files of ours
only; a folder used only when it is ours; leftover temporary files swept."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from mdh_creds.cache.folder import (
    MAX_BYTES,
    folder_problem,
    is_private_folder,
    prepare_folder,
    read_private,
    sweep_temporary,
)
from mdh_creds.errors import CacheUnavailable

root_only = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user needs root (CI runs as root)",
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "cache"
    made.mkdir(mode=0o700)
    return made


def test_a_regular_file_of_ours_is_read(folder: Path) -> None:
    (folder / "entry").write_bytes(b"x" * MAX_BYTES)
    assert read_private(folder / "entry") == b"x" * MAX_BYTES
    assert read_private(folder / "absent") is None


@pytest.mark.timeout(20)
def test_a_fifo_is_a_miss_not_a_hang(folder: Path) -> None:
    os.mkfifo(folder / "entry")
    assert read_private(folder / "entry") is None


@pytest.mark.timeout(20)
def test_links_devices_sockets_and_folders_are_misses(folder: Path) -> None:
    (folder / "target").write_bytes(b"secret elsewhere")
    (folder / "link").symlink_to(folder / "target")
    (folder / "zero").symlink_to("/dev/zero")
    (folder / "dir").mkdir()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(folder / "socket"))
        for name in ("link", "zero", "dir", "socket"):
            assert read_private(folder / name) is None, name


def test_a_file_over_the_limit_is_a_miss_without_reading_it(folder: Path) -> None:
    with open(folder / "huge", "wb") as handle:
        handle.truncate(1 << 30)  # sparse: a gigabyte that costs nothing to make
    started = time.monotonic()
    assert read_private(folder / "huge") is None
    assert read_private(folder / "huge", limit=(1 << 30) - 1) is None
    (folder / "small").write_bytes(b"abc")
    assert read_private(folder / "small", limit=2) is None
    assert time.monotonic() - started < 5


@root_only
def test_another_users_file_is_a_miss(folder: Path) -> None:
    (folder / "entry").write_bytes(b"planted")
    os.chown(folder / "entry", 65534, 65534)
    assert read_private(folder / "entry") is None


def test_a_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert folder_problem(shared) == "other users can write to it (mode 777)"
    assert not is_private_folder(shared)
    with pytest.raises(CacheUnavailable, match=r"other users can write to it .*\(mode 700\)"):
        prepare_folder(shared)
    os.chmod(shared, 0o1777)  # sticky, like /tmp: others still plant files in it
    assert folder_problem(shared) is not None


def test_a_folder_others_can_only_read_is_used_but_not_by_the_fast_path(tmp_path: Path) -> None:
    readable = tmp_path / "readable"
    readable.mkdir()
    os.chmod(readable, 0o755)
    assert folder_problem(readable) is None
    assert not is_private_folder(readable)
    os.chmod(readable, 0o700)
    assert is_private_folder(readable)


@root_only
def test_another_users_folder_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    assert folder_problem(theirs) == "it belongs to another user (uid 65534)"
    with pytest.raises(CacheUnavailable, match="belongs to another user"):
        prepare_folder(theirs)


def test_a_linked_lock_folder_is_refused(folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (folder / "locks").symlink_to(elsewhere)
    assert folder_problem(folder / "locks") is None  # followed: the target is fine
    assert folder_problem(folder / "locks", follow=False) == "it is a symbolic link"


def test_old_temporary_files_are_swept_young_ones_kept(folder: Path) -> None:
    old, young = folder / ".tmp-old.part", folder / ".tmp-young.part"
    other = folder / "credentials-x.bin"
    for path in (old, young, other):
        path.write_bytes(b"x")
    (folder / ".tmp-link.part").symlink_to("/etc/hostname")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(folder / ".tmp-link.part", (hour_ago, hour_ago), follow_symlinks=False)
    assert sweep_temporary(folder) == 2
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-young.part", "credentials-x.bin"]
    assert Path("/etc/hostname").exists()
    assert sweep_temporary(folder, older_than=0) == 1
    assert [p.name for p in folder.iterdir()] == ["credentials-x.bin"]
