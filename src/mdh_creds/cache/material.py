"""Where a KMS profile keeps the material of its cache sealing key: a 0600 file in a folder of
its own (``$XDG_DATA_HOME/mdh-creds/sealing``), never in the cache folder.

The material is KMS's signature over a fixed message (``aws.kms.sealing_material``): only whoever
may call ``kms:Sign`` with the key can make it, and every machine of a fleet makes the same one.
Keeping it here lets a cache hit open its entry with no AWS call. A stolen cache folder holds
none of it. Light: the cache-hit fast path of a KMS profile reads it through ``load_material``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mdh_creds.cache.folder import read_private_with_status

SEALING_FOLDER = "sealing"
_MAX_BYTES = 4096


def data_folder(environ: Mapping[str, str]) -> str:
    """``$XDG_DATA_HOME/mdh-creds``, else ``~/.local/share/mdh-creds`` (Windows: APPDATA)."""
    base = environ.get("XDG_DATA_HOME")
    if not base and os.name == "nt":
        base = environ.get("APPDATA")
    if not base:
        home = environ.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".local", "share")
    return os.path.join(os.path.expanduser(base), "mdh-creds")


def material_path(environ: Mapping[str, str], kms_key_id: str) -> str:
    """The file of the material for ``kms_key_id`` (named by a digest: no key id on disk)."""
    from mdh_creds.crypto import sha256_hex

    digest = sha256_hex(kms_key_id.encode("utf-8"))
    return os.path.join(data_folder(environ), SEALING_FOLDER, f"kms-{digest}.key")


def load_material(path: str) -> bytes | None:
    """The material kept at ``path``, or ``None`` (absent, a link, another user's, too large, or
    readable by others: then it is made again and rewritten 0600)."""
    try:
        found = read_private_with_status(path, _MAX_BYTES)
    except OSError:
        return None
    if found is None or (os.name == "posix" and found[1].st_mode & 0o077):
        return None
    return found[0] or None


def save_material(path: str, material: bytes) -> None:
    """Keep ``material`` at ``path`` (folders 0700, file 0600, atomic); raises ``OSError``."""
    from pathlib import Path

    from mdh_creds.persist import write_atomic

    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(target.parent, 0o700)
    write_atomic(target, material)
