"""Seal and open cache entries: AES-256-GCM under a key derived (HKDF-SHA256) from the private key
(or, for a client-secret profile, from the client secret; for a KMS profile, from KMS's signature
over a fixed message: each with its own info string).

Envelope, version 1::

    b"MDH1" | nonce (12 bytes, random) | AES-GCM ciphertext and tag

The associated data binds the envelope version, the entry kind and the entry digest, so an entry
copied under another key, or of another kind, does not open. Anything that does not open or parse
is a miss (``None``), never an error: the caller replaces it with a fresh exchange.
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_MAGIC = b"MDH1"
_NONCE_BYTES = 12
_INFO = b"mdh-creds cache entry key v1"
# A client secret derives its key under another label (and the client id as salt), so it can
# never give the key of a private key whose bytes it happened to equal.
_CLIENT_SECRET_INFO = b"mdh-creds client-secret entry key v1"
_KMS_INFO = b"mdh-creds kms entry key v1"


class EntryKey(Protocol):
    """What names an entry (``cache.stored.CacheKey``): no secret in any of it."""

    @property
    def kind(self) -> str: ...

    @property
    def digest(self) -> str: ...

    @property
    def name(self) -> str: ...


def identity_digest(identity: dict[str, str]) -> str:
    """SHA-256 (hex) of the identity's canonical JSON: the entry key, never holding a secret."""
    return sha256_hex(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode())


def sha256_hex(data: bytes) -> str:
    """SHA-256 (hex) of ``data`` with cryptography's hashes, which a cache hit loads anyway:
    ``hashlib`` would load a second OpenSSL (``_hashlib``), a few milliseconds of a hit."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def _debug(message: str, *args: object) -> None:
    import logging  # only when something is wrong: the hit path stays free of logging

    logging.getLogger(__name__).debug(message, *args)


def derive_key(key_material: bytes, info: bytes = _INFO, salt: bytes | None = None) -> bytes:
    """32 bytes for AES-256 from the private key's DER bytes (HKDF-SHA256, RFC 5869)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key_material)


def _associated_data(key: EntryKey) -> bytes:
    return b"|".join((_MAGIC, key.kind.encode(), key.digest.encode()))


class Sealer:
    """Encrypts and authenticates cache payloads with one derived key."""

    def __init__(
        self, key_material: bytes, *, info: bytes = _INFO, salt: bytes | None = None
    ) -> None:
        self._aead = AESGCM(derive_key(key_material, info, salt))

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    @classmethod
    def from_entry_key(cls, entry_key: bytes) -> Sealer:
        """A sealer from the 32 bytes ``derive_key`` gave (``entry_key``), remembered by the
        secret memo (``mdh.memo``) so a hit opens entries without the private key."""
        sealer = cls.__new__(cls)
        sealer._aead = AESGCM(entry_key)
        return sealer

    @classmethod
    def for_client_secret(cls, client_id: str, client_secret: str) -> Sealer:
        """The sealer of a client-secret profile: the key derived from the client secret."""
        return cls(client_secret.encode(), info=_CLIENT_SECRET_INFO, salt=client_id.encode())

    @classmethod
    def for_kms_material(cls, material: bytes) -> Sealer:
        """The sealer of a KMS profile: the key derived from ``cache.material``'s material."""
        return cls(material, info=_KMS_INFO)

    def seal(self, key: EntryKey, payload: dict[str, Any]) -> bytes:
        """The envelope for ``payload`` stored under ``key``."""
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(payload, separators=(",", ":")).encode()
        return _MAGIC + nonce + self._aead.encrypt(nonce, plaintext, _associated_data(key))

    def open(self, key: EntryKey, sealed: bytes | None) -> dict[str, Any] | None:
        """The payload, or ``None`` for anything absent, foreign, tampered or malformed."""
        if not sealed or not sealed.startswith(_MAGIC) or len(sealed) < 4 + _NONCE_BYTES + 16:
            if sealed:
                _debug("cache entry %s: unknown envelope, treated as a miss", key.name)
            return None
        nonce = sealed[4 : 4 + _NONCE_BYTES]
        try:
            plaintext = self._aead.decrypt(nonce, sealed[4 + _NONCE_BYTES :], _associated_data(key))
            data = json.loads(plaintext)
        except (InvalidTag, ValueError):
            _debug("cache entry %s does not open, treated as a miss", key.name)
            return None
        return data if isinstance(data, dict) else None
