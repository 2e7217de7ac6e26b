"""Single-flight locks for the file and keyring backends: one OS file lock per cache entry.

Each lock is ``<folder>/locks/<name>.lock`` held with ``flock`` through ``filelock``. The OS drops
the lock when its holder exits or dies, so a crashed process never wedges the cache.

Every acquisition opens its own ``FileLock`` (``is_singleton=False``, thread-local context), so
two threads of one process contend exactly like two processes: neither re-enters the other's hold.
The lock is not re-entrant: acquiring it again from the thread that holds it waits and times out.

The ``locks`` folder must be a real folder of ours (not a link, not open to other writers) and a
lock file a regular file: anything else makes the backend unavailable (a warning and no cache),
never a lock taken on, or a truncation of, a file somewhere else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import filelock

from mdh_creds.cache.folder import prepare_folder
from mdh_creds.cache.stored import CacheKey
from mdh_creds.errors import CacheUnavailable, LockTimeout

_POLL_SECONDS = 0.02


class FileLocks:
    """Per-entry exclusive locks in ``<folder>/locks``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / "locks"

    def __repr__(self) -> str:
        return f"FileLocks({str(self.folder)!r})"

    def path_for(self, name: str) -> Path:
        """The lock file guarding the entry (or resource) called ``name``."""
        return self.folder / f"{name}.lock"

    def prepare(self) -> None:
        """Create the lock folder, or check it; ``CacheUnavailable`` when it cannot serve."""
        prepare_folder(self.folder, follow=False, what="lock folder")
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise CacheUnavailable(
                f"cannot create lock files in {self.folder} (permission denied): "
                "set mdh_cache_dir to a writable folder"
            )

    def lock(self, key: CacheKey, timeout: float) -> AbstractContextManager[None]:
        """Hold the lock of ``key`` for the ``with`` block; ``LockTimeout`` after ``timeout`` s."""
        return self.lock_name(key.name, timeout)

    @contextmanager
    def lock_name(self, name: str, timeout: float) -> Iterator[None]:
        """Hold the lock called ``name`` (an entry or a shared resource) for the ``with`` block."""
        path = self.path_for(name)
        self.prepare()
        _check_lock_file(path)
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


def _check_lock_file(path: Path) -> None:
    """A lock file that exists must be a regular file: a link would have ``filelock`` open (and
    older versions truncate) whatever it points to."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CacheUnavailable(f"cannot use the lock file {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise CacheUnavailable(
            f"the lock file {path} is not a regular file: remove it, or set mdh_cache_dir"
        )
