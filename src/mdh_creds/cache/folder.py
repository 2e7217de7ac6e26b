"""The one way into the cache folder: it is used only when it is ours, and each file in it is read
bounded, without following a link, and only when it is a regular file of ours (DESIGN 6).

A FIFO, a socket, a device, a symbolic link, another user's file or a file over 1 MiB is a miss,
never a hang and never a read of something else. Nothing found here is imported or executed.
Writes go through ``persist.write_atomic`` (a new temporary file renamed over the name), which
replaces a planted link instead of writing through it. Light: the cache-hit fast path reads its
entry, and checks the folder, through these functions.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

MAX_BYTES = 1 << 20
SWEEP_AFTER = 300.0  # seconds: an older temporary file belongs to a writer that died
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
# An open that met a link (ELOOP; EMLINK on the BSDs) or a socket (ENXIO), or a file that went.
_MISSES = {errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.ENOENT}


def _is_ours(info: os.stat_result) -> bool:
    """Owned by this process's effective user (where the platform has owners)."""
    return not hasattr(os, "geteuid") or info.st_uid == os.geteuid()


def read_private(path: str | Path, limit: int = MAX_BYTES) -> bytes | None:
    """The bytes of the regular file of ours at ``path``, or ``None`` (absent, a link, not a
    regular file, another user's, over ``limit`` bytes). Other failures raise ``OSError``."""
    found = read_private_with_status(path, limit)
    return None if found is None else found[0]


def read_private_with_status(
    path: str | Path, limit: int = MAX_BYTES
) -> tuple[bytes, os.stat_result] | None:
    """``read_private`` with the file's status (for its modification time)."""
    try:
        seen = os.lstat(path)  # decide before opening: opening a device may act on it
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(seen.st_mode) or not _is_ours(seen) or seen.st_size > limit:
        return None
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno in _MISSES:
            return None
        raise
    try:
        info = os.fstat(fd)
        same = (info.st_dev, info.st_ino) == (seen.st_dev, seen.st_ino)
        if not (same and stat.S_ISREG(info.st_mode) and _is_ours(info)):
            return None  # swapped between the look and the open
        data = _read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    return (data, info) if len(data) <= limit else None


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def folder_problem(folder: str | Path, *, follow: bool = True) -> str | None:
    """Why ``folder`` must not hold a cache, or ``None`` when it is ours or does not exist yet.

    Another user who may write to the folder could plant links, FIFOs or entries in it, so it is
    refused; ``follow=False`` refuses a symbolic link too (the ``locks`` folder inside it).
    """
    try:
        info = os.stat(folder) if follow else os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return _status_problem(info)


def _status_problem(info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    if not _is_ours(info):
        return f"it belongs to another user (uid {info.st_uid})"
    if hasattr(os, "geteuid") and info.st_mode & 0o022:
        return f"other users can write to it (mode {info.st_mode & 0o777:o})"
    return None


def is_private_folder(folder: str | Path) -> bool:
    """True when ``folder`` is ours and closed to others: the only folder the fast path reads
    (the full command warns about any other, or refuses it)."""
    if folder_problem(folder) is not None:
        return False
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    return not (hasattr(os, "geteuid") and mode & 0o077)


def prepare_folder(folder: Path, *, follow: bool = True, what: str = "cache folder") -> None:
    """Create ``folder`` (and parents) 0700, or check an existing one is ours and closed to
    writers; ``CacheUnavailable`` names what to fix. A folder others may only read is used, with
    a warning."""
    problem = folder_problem(folder, follow=follow)
    if problem is None:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
        problem = problem or folder_problem(folder, follow=follow)
    if problem is not None:
        from mdh_creds.errors import CacheUnavailable

        raise CacheUnavailable(
            f"{what} {folder} is not usable ({problem}): set mdh_cache_dir to a folder of "
            "yours that only you can write to (mode 700)"
        )
    _warn_if_readable(folder)


def _warn_if_readable(folder: Path) -> None:
    mode = folder.stat().st_mode & 0o777
    if hasattr(os, "geteuid") and mode & 0o077:
        import logging

        logging.getLogger(__name__).warning(
            "cache folder %s is readable by others (mode %o): run chmod 700 %s",
            folder,
            mode,
            folder,
        )


def sweep_temporary(folder: Path, older_than: float = SWEEP_AFTER) -> int:
    """Remove the temporary files of killed writers (``persist.write_atomic``) that are older
    than ``older_than`` seconds; the number removed. A file in use by a live writer is younger."""
    import time

    from mdh_creds.persist import TEMP_PREFIX, TEMP_SUFFIX

    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    now, removed = time.time(), 0
    for name in names:
        if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
            continue
        path = folder / name
        try:
            info = os.lstat(path)
            stale = now - info.st_mtime >= older_than
            if stale and _is_ours(info) and not stat.S_ISDIR(info.st_mode):
                os.unlink(path)
                removed += 1
        except OSError:
            continue
    return removed
