"""The stored form of a file-cache entry: a small header that holds the expiry, then the sealed
bytes. Light: the cache-hit fast path reads entries with it.

    b"MDE1" | expires_at (signed 64-bit big-endian, Unix seconds, rounded down) | sealed

The header holds nothing secret; it lets a reader treat an expired entry as absent unopened.
The keyring cache keeps the same bytes, base64-encoded, as the item's password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

KEYRING_SERVICE = "mdh-creds"  # the keyring item: service, username = entry name
KEYRING_PIN_FILE = "keyring-backend"  # in the cache folder: the keyring class chosen once
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
_MAGIC = b"MDE1"
_HEADER_SIZE = 12
SUFFIX = ".bin"


def pack_entry(sealed: bytes, expires_at: datetime) -> bytes:
    """The stored form of an entry: the expiry header, then the sealed bytes."""
    import math

    expires = math.floor(expires_at.timestamp()).to_bytes(8, "big", signed=True)
    return _MAGIC + expires + bytes(sealed)


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
