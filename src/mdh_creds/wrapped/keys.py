"""The key that seals wrapped entries: 32 random bytes, made once per cache folder.

There is no service-account key to derive it from, so it is kept apart from the entries:

1. a key file ``<cache folder>/wrap-sealing.key`` (0600, ours), when present, is used;
2. else the OS keyring, when one answers (reached as the keyring cache reaches it: the pinned
   backend, never a prompt), holds it as the item ``wrap-sealing-key`` of service ``mdh-creds``;
3. else a new key file is written (0600, atomically).

A key is made under a file lock, so concurrent first runs agree on one. Several machines that
share a DynamoDB table share entries only when they hold the same key: a KMS key's sealing
material (``wrap --kms-key-id``, the command's concern) or one key file copied to each.

Light at import: the cache-hit fast path reads the key with ``read_key_file`` and
``KEYRING_NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mdh_creds.cache.folder import read_private_with_status

if TYPE_CHECKING:
    from mdh_creds.cache.keyring import KeyringCache

KEY_FILE = "wrap-sealing.key"
KEYRING_NAME = "wrap-sealing-key"
KEY_BYTES = 32
_LOCK_NAME = "wrap-sealing-key"
_LOCK_TIMEOUT = 30.0


def parse_key(text: bytes | str) -> bytes | None:
    """The 32 key bytes of a kept key (hex: ``bytes.fromhex`` needs no import on the fast
    path), or ``None`` when it is not one."""
    try:
        raw = bytes.fromhex(text.decode("ascii") if isinstance(text, bytes) else text)
    except (UnicodeDecodeError, ValueError):
        return None
    return raw if len(raw) == KEY_BYTES else None


def read_key_file(folder: str) -> bytes | None:
    """The key in ``folder``'s key file, or ``None`` (absent, a link, another user's, readable
    by others, or not a key)."""
    try:
        found = read_private_with_status(os.path.join(folder, KEY_FILE), 256)
    except OSError:
        return None
    if found is None or (os.name == "posix" and found[1].st_mode & 0o077):
        return None
    return parse_key(found[0])


def find_sealing_key(folder: str, environ: Mapping[str, str]) -> tuple[bytes, str] | None:
    """The key and where it is kept, or ``None`` when none has been made yet."""
    return _existing(folder, environ)


def load_sealing_key(folder: str, environ: Mapping[str, str]) -> tuple[bytes, str]:
    """The key, and where it is kept (for ``status``); made once when there is none.
    Raises ``CacheUnavailable`` when the folder cannot hold a key file either."""
    from pathlib import Path

    from mdh_creds.cache.folder import prepare_folder
    from mdh_creds.cache.locks import FileLocks

    found = _existing(folder, environ)
    if found is not None:
        return found
    prepare_folder(Path(folder))
    locks = FileLocks(Path(folder))
    locks.prepare()
    with locks.lock_name(_LOCK_NAME, _LOCK_TIMEOUT):
        return _existing(folder, environ) or _make(folder, environ)


def _existing(folder: str, environ: Mapping[str, str]) -> tuple[bytes, str] | None:
    key = read_key_file(folder)
    if key is not None:
        return key, f"key file {os.path.join(folder, KEY_FILE)}"
    keyring = _keyring(folder, environ)
    if keyring is not None:
        kept = keyring.load_secret(KEYRING_NAME)
        key = parse_key(kept) if kept else None
        if key is not None:
            return key, f"OS keyring ({keyring.backend_path}), item {KEYRING_NAME}"
    return None


def _make(folder: str, environ: Mapping[str, str]) -> tuple[bytes, str]:
    from pathlib import Path

    from mdh_creds.errors import CacheUnavailable
    from mdh_creds.persist import write_atomic

    key = os.urandom(KEY_BYTES)
    text = key.hex()
    keyring = _keyring(folder, environ)
    if keyring is not None:
        try:
            keyring.save_secret(KEYRING_NAME, text)
            return key, f"OS keyring ({keyring.backend_path}), item {KEYRING_NAME}"
        except CacheUnavailable:
            pass
    path = Path(folder) / KEY_FILE
    try:
        write_atomic(path, text.encode("ascii") + b"\n")
    except OSError as exc:
        raise CacheUnavailable(f"cannot write the sealing key {path}: {exc.strerror}") from exc
    return key, f"key file {path}"


def _keyring(folder: str, environ: Mapping[str, str]) -> KeyringCache | None:
    """The OS keyring as the keyring cache reaches it, or ``None`` where none answers."""
    from pathlib import Path

    from mdh_creds.cache.keyring import KeyringCache
    from mdh_creds.errors import CacheUnavailable

    try:
        return KeyringCache(Path(folder), environ=environ)
    except CacheUnavailable:
        return None
