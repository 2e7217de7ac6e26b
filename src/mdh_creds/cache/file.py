"""A cache of one file per entry in a private folder, written atomically.

Each entry is ``<folder>/<key.name>.bin`` in the stored form of ``cache.stored`` (an expiry
header, then the sealed bytes), so ``load`` treats an expired entry as absent without opening
it. A file without a valid header is a miss (``None``); a valid header before a damaged body is
returned as-is and the ``Sealer`` turns it into a miss. Entries are read through
``cache.folder.read_private`` (bounded, no link followed, regular files of ours only: anything
else is a miss), in a folder used only when it is ours. Writes go through
``persist.write_atomic`` (a ``.tmp-*.part`` file, 0600, fsynced, renamed), so a reader sees the
old entry or the new one; a killed writer leaves a stray temporary file, swept on a later write.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from mdh_creds.cache.base import CacheBackend
from mdh_creds.cache.folder import prepare_folder, read_private, sweep_temporary
from mdh_creds.cache.locks import FileLocks
from mdh_creds.cache.stored import SUFFIX, CacheKey, live_body, pack_entry, stored_expiry
from mdh_creds.clock import Clock, utc_now
from mdh_creds.errors import CacheUnavailable
from mdh_creds.persist import write_atomic

_log = logging.getLogger(__name__)


class FileCache(CacheBackend):
    """Sealed entries as files in ``folder``; single flight through ``FileLocks``."""

    name = "file"

    def __init__(self, folder: Path, clock: Clock = utc_now) -> None:
        self.folder = Path(folder)
        self._clock = clock
        prepare_folder(self.folder)
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise self._unwritable(PermissionError("permission denied"))
        self._locks = FileLocks(self.folder)
        self._locks.prepare()

    def __repr__(self) -> str:
        return f"FileCache({str(self.folder)!r})"

    def describe(self) -> str:
        return f"files in {self.folder}"

    def path_for(self, key: CacheKey) -> Path:
        """Where the entry of ``key`` lives."""
        return self.folder / f"{key.name}{SUFFIX}"

    def load(self, key: CacheKey) -> bytes | None:
        try:
            stored = read_private(self.path_for(key))
        except OSError as exc:
            raise CacheUnavailable(
                f"cannot read the cache folder {self.folder} ({exc.strerror or exc}): "
                "fix its permissions or set mdh_cache_dir"
            ) from exc
        if stored is None:
            _log.debug("no usable cache entry %s", key.name)
            return None
        return live_body(stored, self._clock())

    def expiry(self, key: CacheKey) -> float | None:
        """The stored expiry of ``key``'s entry, expired or not (``None``: absent or no header)."""
        try:
            stored = read_private(self.path_for(key))
        except OSError:
            return None
        return None if stored is None else stored_expiry(stored)

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        try:
            write_atomic(self.path_for(key), pack_entry(sealed, expires_at))
        except OSError as exc:
            raise self._unwritable(exc) from exc
        sweep_temporary(self.folder)

    def delete(self, key: CacheKey) -> None:
        try:
            self.path_for(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def list_keys(self) -> Iterator[CacheKey]:
        """Every entry file present, expired or not; temporary files are skipped."""
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return iter(())
        except OSError as exc:
            raise self._unwritable(exc) from exc
        keys = (CacheKey.parse_name(n[: -len(SUFFIX)]) for n in names if n.endswith(SUFFIX))
        return iter([key for key in keys if key is not None])

    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> AbstractContextManager[None]:
        return self._locks.lock(key, timeout)

    def _unwritable(self, exc: OSError) -> CacheUnavailable:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return CacheUnavailable(
            f"cache folder {self.folder} is not usable ({reason}): "
            "set mdh_cache_dir to a writable folder"
        )
