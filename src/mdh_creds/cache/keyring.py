"""A cache in the OS keyring (Secret Service, macOS Keychain, Windows Credential Locker).

Each entry is the password of service ``mdh-creds``, username ``key.name``: the base64 of the
same header-and-sealed-bytes form the file backend stores (see ``mdh_creds.cache.stored``).

Choosing the keyring backend must be fast and must never prompt, so it happens once (the names
are read through ``cache.choice``, as the fast path reads them):

1. ``PYTHON_KEYRING_BACKEND`` in the environment passed in, when set, names the class to use (an
   unusable one is an error);
2. else ``<folder>/keyring-backend`` pins a class path from an earlier run: it is built directly,
   skipping keyring's detection. Only keyring's own backends (``PINNABLE``) are ever pinned or
   read from a pin: nothing found in the cache folder names a module to import. Any other pin is
   ignored with a warning and detection runs again;
3. else keyring's detection runs, unusable results are rejected (fail, null, chainer, priority
   below 1, and the file-based ``keyrings.alt``/``keyrings.cryptfile`` backends that may prompt on
   a terminal), and the chosen class path is pinned atomically when it is one of ``PINNABLE``.

A probe read (bounded in time) then checks the keyring answers. Keyring has no listing API, so
the entry names (no secret) are kept in ``<folder>/keyring-index.json``, rewritten atomically
under a file lock. The pin and the index are read through ``cache.folder.read_private``. Every
keyring failure becomes ``CacheUnavailable`` with a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from mdh_creds.cache.base import CacheBackend
from mdh_creds.cache.choice import KEYRING_PIN_FILE, keyring_from_environ, pinned_keyring
from mdh_creds.cache.folder import prepare_folder, read_private, sweep_temporary
from mdh_creds.cache.locks import FileLocks
from mdh_creds.cache.stored import (
    KEYRING_SERVICE,
    CacheKey,
    live_body,
    pack_entry,
    stored_expiry,
)
from mdh_creds.clock import Clock, utc_now
from mdh_creds.errors import CacheUnavailable
from mdh_creds.persist import write_atomic

SERVICE = KEYRING_SERVICE
PIN_FILE = KEYRING_PIN_FILE
INDEX_FILE = "keyring-index.json"
_PROBE_USER = "probe"
_PROBE_TIMEOUT = 5.0
_INDEX_LOCK_TIMEOUT = 10.0
_REJECTED = (
    "keyring.backends.fail.",
    "keyring.backends.null.",
    "keyring.backends.chainer.",
    "keyrings.alt.",
    "keyrings.cryptfile.",
)
# The backends a pin file may name: keyring's own, so a pin planted in the folder imports nothing.
PINNABLE = (
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
)
_FALLBACK = "set mdh_cache = file"
_log = logging.getLogger(__name__)


def class_path(cls: type) -> str:
    """``module.Class`` for ``cls``, the form ``PYTHON_KEYRING_BACKEND`` takes."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _rejected(cls: type) -> bool:
    return class_path(cls).startswith(_REJECTED)


def _failures() -> tuple[type[BaseException], ...]:
    """Exceptions a keyring call may raise when the keyring cannot serve us."""
    import keyring.errors

    found: list[type[BaseException]] = [keyring.errors.KeyringError, OSError, RuntimeError]
    with contextlib.suppress(ImportError):
        import secretstorage.exceptions

        found.append(secretstorage.exceptions.SecretStorageException)
    with contextlib.suppress(ImportError):
        import jeepney.wrappers

        found.append(jeepney.wrappers.DBusErrorResponse)
    return tuple(found)


def _unusable(exc: BaseException) -> CacheUnavailable:
    """The one-line reason for a keyring failure."""
    import keyring.errors

    if isinstance(exc, keyring.errors.KeyringLocked):
        return CacheUnavailable(f"the OS keyring is locked: unlock it or {_FALLBACK}")
    detail = (str(exc).strip().splitlines() or [""])[0][:160]
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return CacheUnavailable(f"the OS keyring is not usable ({reason}): {_FALLBACK}")


def _load_class(path: str) -> type | None:
    """The keyring backend class at ``path``, or ``None`` if it is missing or rejected."""
    from keyring.backend import KeyringBackend

    module_name, _, class_name = path.strip().rpartition(".")
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception:  # a broken third-party module may raise anything on import
        return None
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, KeyringBackend) or _rejected(found):
        return None
    return found


def _priority(backend: Any) -> float:
    """A backend's priority; its ``priority`` raises when it cannot run here."""
    try:
        return float(backend.priority)
    except Exception as exc:
        raise _unusable(exc) from exc


def _detect() -> Any:
    """The best usable backend keyring's detection finds (slow: run once, then pinned)."""
    import keyring.backend

    try:
        candidates = keyring.backend.get_all_keyring()
    except Exception as exc:
        raise _unusable(exc) from exc
    scored = []
    for candidate in candidates:
        with contextlib.suppress(Exception):
            if not _rejected(type(candidate)) and float(candidate.priority) >= 1:
                scored.append((float(candidate.priority), candidate))
    if not scored:
        raise CacheUnavailable(
            "no usable OS keyring found (no Secret Service, Keychain or Credential Locker "
            f"answers): {_FALLBACK}"
        )
    return max(scored, key=lambda pair: pair[0])[1]


class KeyringCache(CacheBackend):
    """Sealed entries as OS keyring passwords; single flight through ``FileLocks``."""

    name = "keyring"

    def __init__(
        self, folder: Path, clock: Clock = utc_now, environ: Mapping[str, str] | None = None
    ) -> None:
        self.folder = Path(folder)
        self._clock = clock
        self._environ = os.environ if environ is None else environ
        try:
            import keyring.backend  # noqa: F401
        except ImportError as exc:
            raise CacheUnavailable(f"the keyring package cannot be imported: {_FALLBACK}") from exc
        prepare_folder(self.folder)
        self._locks = FileLocks(self.folder)
        self._locks.prepare()
        self._errors = _failures()
        self._backend, self.backend_path = self._choose_backend()
        self._probe()

    def __repr__(self) -> str:
        return f"KeyringCache({self.backend_path!r})"

    def describe(self) -> str:
        return f"OS keyring {self.backend_path}, service {SERVICE} (index in {self.folder})"

    def load(self, key: CacheKey) -> bytes | None:
        stored = self._stored(key)
        return None if stored is None else live_body(stored, self._clock())

    def expiry(self, key: CacheKey) -> float | None:
        """The stored expiry of ``key``'s entry, expired or not (``None``: absent or no header)."""
        stored = self._stored(key)
        return None if stored is None else stored_expiry(stored)

    def _stored(self, key: CacheKey) -> bytes | None:
        password = self._call(self._backend.get_password, SERVICE, key.name)
        if not isinstance(password, str):
            return None
        try:
            return base64.b64decode(password, validate=True)
        except (binascii.Error, ValueError):
            return None

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        value = base64.b64encode(pack_entry(sealed, expires_at)).decode("ascii")
        self._call(self._backend.set_password, SERVICE, key.name, value)
        self._update_index(key.name, present=True)

    def delete(self, key: CacheKey) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._call(self._backend.delete_password, SERVICE, key.name, keep_delete_error=True)
        self._update_index(key.name, present=False)

    def list_keys(self) -> Iterator[CacheKey]:
        """The entries named in the index (the keyring itself cannot list)."""
        keys = (CacheKey.parse_name(name) for name in sorted(self._read_index()))
        return iter([key for key in keys if key is not None])

    def load_secret(self, name: str) -> str | None:
        """A secret kept for the user under ``name`` (a key, a passphrase), or ``None``."""
        found = self._call(self._backend.get_password, SERVICE, name)
        return found if isinstance(found, str) and found else None

    def save_secret(self, name: str, value: str) -> None:
        """Keep ``value`` under ``name``; it is no cache entry (not indexed, never cleared)."""
        self._call(self._backend.set_password, SERVICE, name, value)

    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> AbstractContextManager[None]:
        return self._locks.lock(key, timeout)

    def _call(self, method: Callable[..., Any], *args: str, keep_delete_error: bool = False) -> Any:
        import keyring.errors

        try:
            return method(*args)
        except keyring.errors.PasswordDeleteError as exc:
            if keep_delete_error:
                raise
            raise CacheUnavailable(f"the OS keyring refused a deletion: {_FALLBACK}") from exc
        except self._errors as exc:
            raise _unusable(exc) from exc

    def _choose_backend(self) -> tuple[Any, str]:
        from_env = keyring_from_environ(self._environ)
        if from_env:
            cls = _load_class(from_env)
            if cls is None or _priority(cls) < 1:
                raise CacheUnavailable(
                    f"PYTHON_KEYRING_BACKEND={from_env} is not a usable keyring: {_FALLBACK}"
                )
            return self._build(cls), from_env
        pinned = pinned_keyring(str(self.folder))
        if pinned in PINNABLE:
            cls = _load_class(pinned)
            if cls is not None and _priority(cls) >= 1:
                return self._build(cls), pinned
        if pinned:
            _log.warning("ignoring the keyring backend pinned in %s", self.folder / PIN_FILE)
        backend = _detect()
        chosen = class_path(type(backend))
        self._pin(chosen if chosen in PINNABLE else None, pinned)
        return backend, chosen

    def _pin(self, chosen: str | None, pinned: str) -> None:
        """Pin ``chosen`` (or remove a pin that is no longer right), atomically."""
        path = self.folder / PIN_FILE
        try:
            if chosen is not None:
                write_atomic(path, f"{chosen}\n".encode())
            elif pinned:
                path.unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("cannot pin the keyring backend in %s: %s", self.folder, exc.strerror)

    def _build(self, cls: type) -> Any:
        try:
            return cls()
        except Exception as exc:
            raise _unusable(exc) from exc

    def _probe(self) -> None:
        """One read that must answer within a few seconds, so a hung keyring is never used."""
        outcome: list[BaseException] = []

        def read() -> None:
            try:
                self._backend.get_password(SERVICE, _PROBE_USER)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=read, name="mdh-creds-keyring-probe", daemon=True)
        worker.start()
        worker.join(_PROBE_TIMEOUT)
        if worker.is_alive():
            raise CacheUnavailable(
                f"the OS keyring did not answer within {_PROBE_TIMEOUT:g}s: {_FALLBACK}"
            )
        if outcome:
            raise _unusable(outcome[0]) from outcome[0]

    @staticmethod
    def _read_text(path: Path) -> str:
        """A small file of ours in the folder, or ``""`` (absent, not ours, not text)."""
        try:
            data = read_private(path, 256 * 1024)
            return data.decode("utf-8").strip() if data is not None else ""
        except (OSError, UnicodeDecodeError):
            return ""

    def _read_index(self) -> set[str]:
        text = self._read_text(self.folder / INDEX_FILE)
        try:
            names = json.loads(text) if text else []
        except ValueError:
            names = []
        if not isinstance(names, list):
            return set()
        return {name for name in names if isinstance(name, str) and CacheKey.parse_name(name)}

    def _update_index(self, name: str, *, present: bool) -> None:
        with self._locks.lock_name("keyring-index", _INDEX_LOCK_TIMEOUT):
            names = self._read_index()
            if (name in names) == present:
                return
            names = names | {name} if present else names - {name}
            try:
                write_atomic(self.folder / INDEX_FILE, json.dumps(sorted(names)).encode())
                sweep_temporary(self.folder)
            except OSError as exc:
                raise CacheUnavailable(
                    f"cannot write {self.folder / INDEX_FILE} ({exc.strerror or exc}): "
                    "set mdh_cache_dir to a writable folder"
                ) from exc
