"""RSA key pairs for service accounts used in tests, generated in memory and never cached."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = ["KeyPair", "generate_key_pair"]


@dataclass(frozen=True)
class KeyPair:
    """A service account key pair as PEM text.

    ``private_pem`` is PKCS#1 (``BEGIN RSA PRIVATE KEY``), the format MyDataHelps issues;
    it is left out of ``repr``. ``public_pem`` is a SubjectPublicKeyInfo PEM.
    """

    private_pem: str = field(repr=False)
    public_pem: str

    @property
    def private_pem_pkcs1(self) -> str:
        """The private key as unencrypted PKCS#1 PEM (``BEGIN RSA PRIVATE KEY``)."""
        return _reencode(self.private_pem, serialization.PrivateFormat.TraditionalOpenSSL)

    @property
    def private_pem_pkcs8(self) -> str:
        """The private key as unencrypted PKCS#8 PEM (``BEGIN PRIVATE KEY``)."""
        return _reencode(self.private_pem, serialization.PrivateFormat.PKCS8)

    def write_private_key(self, path: str | os.PathLike[str], mode: int = 0o600) -> Path:
        """Write the PKCS#1 private key to ``path`` with permissions ``mode``; return the path.

        The file is created with ``mode`` from the start (never world-readable in between)
        and its mode is enforced even when it already existed.
        """
        target = Path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            os.fchmod(fd, mode)
            handle.write(self.private_pem)
        return target


def generate_key_pair(bits: int = 2048) -> KeyPair:
    """Generate a fresh RSA key pair of ``bits`` bits (public exponent 65537)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private_pem=private_pem.decode("ascii"), public_pem=public_pem.decode("ascii"))


def _reencode(private_pem: str, fmt: serialization.PrivateFormat) -> str:
    key: PrivateKeyTypes = serialization.load_pem_private_key(
        private_pem.encode("ascii"), password=None
    )
    encoded = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    return encoded.decode("ascii")
