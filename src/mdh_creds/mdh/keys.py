"""Load the service account's private key: PEM text or a file (a secret's: ``mdh.secrets``; the
OS keyring's: ``mdh.account``), opened with its passphrase when it is encrypted.

MDH users paste keys in many shapes: PKCS#1 or PKCS#8, on one line, with literal ``\\n``, or
base64-encoded whole. Everything is normalised to PEM here. The RSA key itself is parsed only when
an assertion must be signed (``load_signing_key``); a cache hit needs only the DER bytes.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mdh_creds.crypto import Sealer
from mdh_creds.errors import PrivateKeyError
from mdh_creds.mdh.pem import decrypt_pem, encrypted_pem, normalise_pem
from mdh_creds.redact import register_secret

if TYPE_CHECKING:
    from mdh_creds.mdh.assertion import Signer

_log = logging.getLogger(__name__)
_MAX_KEY_BYTES = 64 * 1024
# The passphrase of an encrypted key, given its normalised PEM: ``(passphrase, where from)``;
# it raises ``PrivateKeyError`` saying where to put one (``mdh.passphrase``).
PassphraseLookup = Callable[[str], tuple[str, str]]


class AccountKey(Protocol):
    """What signs a service account's assertions and seals its entries: a private key here
    (``PrivateKey``) or a key in AWS KMS (``mdh.kms_key.KmsAccountKey``)."""

    @property
    def source(self) -> str: ...

    def signer(self) -> Signer: ...

    def sealer(self) -> Sealer: ...


@dataclass(frozen=True)
class PrivateKey:
    """A normalised PEM private key and where it came from; the key stays out of ``repr``."""

    pem: str = field(repr=False)
    der: bytes = field(repr=False)
    source: str

    def signer(self) -> Signer:
        """Sign assertions with this key, parsed once, here, on the exchange path."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        rsa_key = load_signing_key(self)

        def sign(message: bytes) -> bytes:
            signature: bytes = rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            return signature

        return sign

    def sealer(self) -> Sealer:
        """Entries are sealed with a key derived from the private key (DESIGN 5)."""
        return Sealer(self.der)


def parse_private_key(
    text: str, source: str, passphrase: PassphraseLookup | None = None
) -> PrivateKey:
    """Normalise pasted key text to PEM, opening an encrypted key with ``passphrase``; raise
    ``PrivateKeyError`` naming ``source`` (never the passphrase)."""
    encrypted = encrypted_pem(text)
    try:
        if encrypted is None:
            pem, body, der = normalise_pem(text)
        else:
            pem, body, der = _decrypt(encrypted, source, passphrase)
    except ValueError as exc:
        raise PrivateKeyError(f"the private key from {source} {exc}") from None
    register_secret(pem, body, text.strip())
    return PrivateKey(pem=pem, der=der, source=source)


def _decrypt(
    encrypted: str, source: str, passphrase: PassphraseLookup | None
) -> tuple[str, str, bytes]:
    if passphrase is None:
        # Only a Secrets Manager secret's key is read with no lookup: the secret is encrypted
        # already, and a passphrase beside it would protect nothing.
        raise ValueError(
            "is encrypted: keep it unencrypted in the secret (its passphrase cannot "
            "be given for a key from Secrets Manager)"
        )
    secret, where = passphrase(encrypted)
    register_secret(secret)
    try:
        return decrypt_pem(encrypted, secret)
    except ValueError as exc:
        raise ValueError(f"{exc}: the passphrase came from {where}") from None


def load_private_key_file(
    path: Path, source: str, passphrase: PassphraseLookup | None = None
) -> PrivateKey:
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
    return parse_private_key(text, f"file {path}", passphrase)


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
