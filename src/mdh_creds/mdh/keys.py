"""Load the service account's private key: PEM text or a file (a secret's: ``mdh.secrets``).

MDH users paste keys in many shapes: PKCS#1 or PKCS#8, on one line, with literal ``\\n``, or
base64-encoded whole. Everything is normalised to PEM here. The RSA key itself is parsed only when
an assertion must be signed (``load_signing_key``); a cache hit needs only the DER bytes.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdh_creds.errors import PrivateKeyError
from mdh_creds.mdh.pem import normalise_pem
from mdh_creds.redact import register_secret

_log = logging.getLogger(__name__)
_MAX_KEY_BYTES = 64 * 1024


@dataclass(frozen=True)
class PrivateKey:
    """A normalised PEM private key and where it came from; the key stays out of ``repr``."""

    pem: str = field(repr=False)
    der: bytes = field(repr=False)
    source: str


def parse_private_key(text: str, source: str) -> PrivateKey:
    """Normalise pasted key text to PEM; raise ``PrivateKeyError`` naming ``source``."""
    try:
        pem, body, der = normalise_pem(text)
    except ValueError as exc:
        raise PrivateKeyError(f"the private key from {source} {exc}") from None
    register_secret(pem, body, text.strip())
    return PrivateKey(pem=pem, der=der, source=source)


def load_private_key_file(path: Path, source: str) -> PrivateKey:
    """Read a key file; warn, as ssh does, when group or others may read it."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would hang the read, a device never end
            raise PrivateKeyError(f"the private key file {path} is not a regular file")
        if info.st_size > _MAX_KEY_BYTES:
            raise PrivateKeyError(f"the private key file {path} is too large to be a key")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PrivateKeyError(
            f"the private key file {path} does not exist (from {source}): fix mdh_private_key_file"
        ) from exc
    except UnicodeDecodeError:  # its cause holds bytes of the key
        raise PrivateKeyError(f"cannot read the private key file {path}: not text") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PrivateKeyError(f"cannot read the private key file {path}: {reason}") from exc
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "private key file %s is readable by group or others: run chmod 600 %s", path, path
        )
    return parse_private_key(text, f"file {path}")


def load_signing_key(key: PrivateKey) -> Any:
    """The RSA key object for signing assertions (parsed only on the exchange path)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        loaded = load_der_private_key(key.der, password=None)
    except (ValueError, TypeError) as exc:
        raise PrivateKeyError(
            f"the private key from {key.source} is malformed or truncated"
        ) from exc
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise PrivateKeyError(
            f"the private key from {key.source} is not an RSA key (RS256 needs one)"
        )
    return loaded
