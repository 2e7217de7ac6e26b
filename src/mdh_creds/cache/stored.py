"""What names a cache entry and how it is stored: the identity, the entry name, and the stored form
of a file or keyring entry (a small header that holds the expiry, then the sealed bytes).

Light: the cache-hit fast path finds and reads entries with it, through the same functions as
the full command.

    b"MDE1" | expires_at (signed 64-bit big-endian, Unix seconds, rounded down) | sealed

The header holds nothing secret; it lets a reader treat an expired entry as absent unopened.
The keyring cache keeps the same bytes, base64-encoded, as the item's password, and a DynamoDB
profile keeps its local copies as such files in ``<cache folder>/dynamodb``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

KEYRING_SERVICE = "mdh-creds"  # the keyring item: service, username = entry name
KEYRING_KEY_PREFIX = "private-key-"  # + the mdh_private_key_keyring name: a key kept there
KEYRING_PASSPHRASE_PREFIX = "passphrase-"  # + a digest of the encrypted key it opens
DYNAMODB_LOCAL_FOLDER = "dynamodb"  # in the cache folder: local copies of the DynamoDB entries
KIND_TOKEN = "token"
KIND_CREDENTIALS = "credentials"
_MAGIC = b"MDE1"
_HEADER_SIZE = 12
SUFFIX = ".bin"


def identity(
    *,
    service_account: str,
    token_url: str,
    exchange_url: str,
    project_id: str | None,
    project_code: str | None,
    scope: str,
) -> dict[str, str]:
    """The identity an entry belongs to (DESIGN 5): its canonical JSON's SHA-256 is the key."""
    return {
        "service_account": service_account,
        "token_url": token_url,
        "exchange_url": exchange_url,
        "project": project_id or project_code or "",
        "scope": scope,
    }


def client_identity(*, client_id: str, token_url: str, scope: str) -> dict[str, str]:
    """The identity of a client-secret token (client id, token URL, scope); ``grant`` keeps it
    apart from every service-account identity. No secret is part of it."""
    return {
        "grant": "client_secret",
        "client_id": client_id,
        "token_url": token_url,
        "scope": scope,
    }


def keyring_key_name(name: str) -> str:
    """The keyring username of the private key that ``mdh_private_key_keyring`` names."""
    return KEYRING_KEY_PREFIX + name


def keyring_passphrase_name(encrypted_pem: str) -> str:
    """The keyring username of the passphrase that opens ``encrypted_pem`` (a digest of the
    encrypted key: it names the key, reveals nothing, and follows the key wherever it moves)."""
    from mdh_creds.crypto import sha256_hex

    return KEYRING_PASSPHRASE_PREFIX + sha256_hex(encrypted_pem.encode("ascii"))


def entry_name(kind: str, digest: str) -> str:
    """The name of an entry (file stem, keyring username, DynamoDB key): no secret in it."""
    return f"{kind}-{digest}"


def parse_entry_name(name: str) -> tuple[str, str] | None:
    """``(kind, digest)`` of an entry name, or ``None`` for a foreign name."""
    kind, sep, digest = name.partition("-")
    valid = sep and kind in (KIND_TOKEN, KIND_CREDENTIALS) and len(digest) == 64
    if not valid or any(ch not in "0123456789abcdef" for ch in digest):
        return None
    return kind, digest


class CacheKey:
    """Where an entry lives: the SHA-256 of the identity's canonical JSON, and the entry kind.

    ``name`` is safe for file names, keyring usernames and DynamoDB keys: no secret is in it.
    Immutable and hashable; a plain class, because the fast path does without ``dataclasses``.
    """

    __slots__ = ("digest", "kind")
    digest: str
    kind: str

    def __init__(self, digest: str, kind: str) -> None:
        object.__setattr__(self, "digest", digest)
        object.__setattr__(self, "kind", kind)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CacheKey is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CacheKey):
            return NotImplemented
        return (self.digest, self.kind) == (other.digest, other.kind)

    def __hash__(self) -> int:
        return hash((self.digest, self.kind))

    def __repr__(self) -> str:
        return f"CacheKey(digest={self.digest!r}, kind={self.kind!r})"

    @property
    def name(self) -> str:
        return entry_name(self.kind, self.digest)

    @classmethod
    def for_identity(cls, identity: dict[str, str], kind: str) -> CacheKey:
        from mdh_creds.crypto import identity_digest

        return cls(identity_digest(identity), kind)

    @classmethod
    def parse_name(cls, name: str) -> CacheKey | None:
        """The key a backend's stored name stands for, or ``None`` for a foreign name."""
        parsed = parse_entry_name(name)
        return cls(parsed[1], parsed[0]) if parsed else None


def pack_entry(sealed: bytes, expires_at: datetime) -> bytes:
    """The stored form of an entry: the expiry header, then the sealed bytes."""
    import math

    expires = math.floor(expires_at.timestamp()).to_bytes(8, "big", signed=True)
    return _MAGIC + expires + bytes(sealed)


def stored_expiry(stored: bytes) -> float | None:
    """The expiry (Unix seconds, local clock) in the header of a stored entry; ``None`` when it
    has no valid header. For ``status``: an entry past it is expired, not unreadable."""
    if len(stored) < _HEADER_SIZE or stored[:4] != _MAGIC:
        return None
    return float(int.from_bytes(stored[4:_HEADER_SIZE], "big", signed=True))


def live_body(stored: bytes, now: datetime | float) -> bytes | None:
    """The sealed bytes of a stored entry, or ``None`` when it is unreadable or expired.

    ``now`` is a datetime, or epoch seconds (the fast path does without datetime)."""
    if len(stored) < _HEADER_SIZE or stored[:4] != _MAGIC:
        return None
    expires = int.from_bytes(stored[4:_HEADER_SIZE], "big", signed=True)
    now_seconds = now if isinstance(now, float | int) else now.timestamp()
    if now_seconds >= expires:
        return None
    return stored[_HEADER_SIZE:]
