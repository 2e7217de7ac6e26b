"""Safe persistence: replace a file atomically; a reader sees the old bytes or the new, no mix.

The one writer behind the file and keyring caches and the AWS config editor: a temporary file in
the same folder (mode 0600 unless told otherwise), written, flushed, fsynced, renamed over the
target with ``os.replace``, then the folder fsynced (botocore ``utils.JSONFileCache``). A writer
killed at any point leaves the old file and at most a stray temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".part"


def write_atomic(path: Path, data: bytes, *, keep: os.stat_result | None = None) -> None:
    """Replace ``path`` with ``data``; raises ``OSError``.

    ``keep``: the old file's status, whose permission bits (and owner, where we may) the new
    file takes; without it the file is 0600.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if keep is not None:
            _copy_owner_and_mode(keep, temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_folder(path.parent)


def _copy_owner_and_mode(old: os.stat_result, temporary: str) -> None:
    os.chmod(temporary, old.st_mode & 0o7777)
    if hasattr(os, "chown"):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(temporary, old.st_uid, old.st_gid)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable where the platform allows opening folders."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
