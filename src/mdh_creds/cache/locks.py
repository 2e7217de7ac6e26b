"""Single-flight locks for the file and keyring backends: one OS file lock per cache entry.

Each lock is ``<folder>/locks/<name>.lock`` held with ``flock`` through ``filelock``. The OS drops
the lock when its holder exits or dies, so a crashed process never wedges the cache.

Every acquisition opens its own ``FileLock`` (``is_singleton=False``, thread-local context), so
two threads of one process contend exactly like two processes: neither re-enters the other's hold.
The lock is not re-entrant: acquiring it again from the thread that holds it waits and times out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import filelock

from mdh_creds.errors import CacheUnavailable, LockTimeout
from mdh_creds.models import CacheKey

_log = logging.getLogger(__name__)
_POLL_SECONDS = 0.02


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and parents) owner-only; warn, never chmod, when it already exists open.

    Raises ``OSError`` when it cannot be created.
    """
    if folder.is_dir():
        mode = folder.stat().st_mode & 0o777
        if mode & 0o077:
            _log.warning("cache folder %s is accessible to others (mode %o)", folder, mode)
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


class FileLocks:
    """Per-entry exclusive locks in ``<folder>/locks``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / "locks"

    def __repr__(self) -> str:
        return f"FileLocks({str(self.folder)!r})"

    def path_for(self, name: str) -> Path:
        """The lock file guarding the entry (or resource) called ``name``."""
        return self.folder / f"{name}.lock"

    def lock(self, key: CacheKey, timeout: float) -> AbstractContextManager[None]:
        """Hold the lock of ``key`` for the ``with`` block; ``LockTimeout`` after ``timeout`` s."""
        return self.lock_name(key.name, timeout)

    @contextmanager
    def lock_name(self, name: str, timeout: float) -> Iterator[None]:
        """Hold the lock called ``name`` (an entry or a shared resource) for the ``with`` block."""
        path = self.path_for(name)
        try:
            make_private_folder(self.folder)
        except OSError as exc:
            raise CacheUnavailable(
                f"cannot create the lock folder {self.folder}: {exc.strerror or exc}; "
                "set mdh_cache_dir to a writable folder"
            ) from exc
        handle = filelock.FileLock(path, mode=0o600, thread_local=True, is_singleton=False)
        try:
            handle.acquire(timeout=max(0.0, timeout), poll_interval=_POLL_SECONDS)
        except filelock.Timeout as exc:
            raise LockTimeout(
                f"lock {path} not acquired within {timeout:g}s: another mdh-creds process holds "
                "it; retry, or remove the file if no mdh-creds process is running"
            ) from exc
        except OSError as exc:
            raise CacheUnavailable(
                f"cannot use the lock file {path}: {exc.strerror or exc}"
            ) from exc
        try:
            yield
        finally:
            handle.release()
