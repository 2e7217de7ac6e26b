"""Which local cache ``mdh_cache`` ends up using, decided in one place: the ``auto`` choice (a real
OS keyring where one answers, else the file cache, remembered for a day) and the keyring class
(``PYTHON_KEYRING_BACKEND`` from the environment passed in, else the class pinned in the cache
folder by an earlier run, else keyring's slow detection).

``cache.backends.select("auto")`` and ``cache.keyring`` decide through these functions; the
cache-hit fast path reads the remembered choice and the pin through the same ones. Light at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mdh_creds.cache.folder import read_private, read_private_with_status

if TYPE_CHECKING:
    from pathlib import Path

AUTO_CHOICE_FILE = "auto-cache"  # in the cache folder: "file" once no keyring answered
AUTO_RECHECK = 86_400  # seconds before mdh_cache=auto looks for a keyring again
KEYRING_PIN_FILE = "keyring-backend"  # in the cache folder: the keyring class chosen once
KEYRING_VARIABLE = "PYTHON_KEYRING_BACKEND"  # keyring's own variable: a class path
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"


def remembers_file_cache(folder: str) -> bool:
    """True while ``mdh_cache=auto`` recently found no keyring and settled on the file cache
    (the marker is read as every file in the cache folder is: ``cache.folder.read_private``)."""
    import time

    try:
        found = read_private_with_status(os.path.join(folder, AUTO_CHOICE_FILE), 64)
    except OSError:
        return False
    if found is None:
        return False
    remembered, info = found
    return remembered.strip() == b"file" and time.time() - info.st_mtime < AUTO_RECHECK


def keyring_from_environ(environ: Mapping[str, str]) -> str:
    """The keyring class the environment names (``PYTHON_KEYRING_BACKEND``), or ``""``."""
    return environ.get(KEYRING_VARIABLE, "").strip()


def pinned_keyring(folder: str) -> str:
    """The keyring class pinned in the cache folder by an earlier run, or ``""`` (absent, not
    ours, not text). Only a name: the caller imports nothing that is not keyring's own."""
    try:
        data = read_private(os.path.join(folder, KEYRING_PIN_FILE), 4096)
        return data.decode("utf-8").strip() if data is not None else ""
    except (OSError, UnicodeDecodeError):
        return ""


def keyring_class(environ: Mapping[str, str], folder: str) -> str:
    """The keyring class used without detection: the environment's, else the pin, else ``""``."""
    return keyring_from_environ(environ) or pinned_keyring(folder)


def remember_file_cache(folder: Path) -> None:
    """Write the ``auto`` choice in the cache folder: only a folder of ours, never through a
    link planted in it (``write_atomic`` renames a new file over the name)."""
    import logging

    from mdh_creds.cache.folder import prepare_folder
    from mdh_creds.errors import CacheUnavailable
    from mdh_creds.persist import write_atomic

    try:
        prepare_folder(folder)
        write_atomic(folder / AUTO_CHOICE_FILE, b"file\n")
    except (OSError, CacheUnavailable) as exc:
        logging.getLogger(__name__).debug("cannot remember the cache choice in %s: %s", folder, exc)
