"""Immutable values: credentials, the access token, cache keys, and how fresh an entry is."""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

_FRACTION = re.compile(r"\.(\d+)")


class Freshness(enum.Enum):
    """Three states, two windows (fresh > window left > stale > 0 left > expired)."""

    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 time with a timezone (``Z`` accepted on every Python) -> aware UTC datetime.

    Raises ``ValueError`` when the text is not a time or carries no timezone.
    """
    if not isinstance(text, str) or not text or len(text) > 64:
        raise ValueError("not an ISO 8601 timestamp")
    cleaned = text.strip()
    if cleaned[-1:] in ("Z", "z"):
        cleaned = cleaned[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes 0, 3 or 6 fraction digits only: normalise to 6.
    match = _FRACTION.search(cleaned)
    if match:
        digits = (match.group(1) + "000000")[:6]
        cleaned = cleaned[: match.start()] + "." + digits + cleaned[match.end() :]
    value = datetime.fromisoformat(cleaned)
    if value.tzinfo is None:
        raise ValueError("timestamp has no timezone")
    return value.astimezone(timezone.utc)


def to_timestamp(value: datetime) -> str:
    """UTC, ``Z`` suffix, no fractions: what every AWS SDK accepts (the Java SDK wants ``Z``)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scaled_window(window: timedelta, lifetime: timedelta) -> timedelta:
    """The refresh window shrinks with short lifetimes: ``min(window, lifetime / 3)``."""
    return max(timedelta(0), min(window, lifetime / 3))


def freshness(
    expires_at: datetime, issued_at: datetime, window: timedelta, now: datetime
) -> Freshness:
    """Judge an entry: fresh while more than the (scaled) window is left."""
    if now >= expires_at:
        return Freshness.EXPIRED
    if expires_at - now <= scaled_window(window, expires_at - issued_at):
        return Freshness.STALE
    return Freshness.FRESH


@dataclass(frozen=True)
class TemporaryCredentials:
    """AWS credentials from the explorer exchange; secrets stay out of ``repr``."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expires_at: datetime
    issued_at: datetime
    skew: timedelta = timedelta(0)

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able form kept (encrypted) in a cache."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expires_at.isoformat(),
            "IssuedAt": self.issued_at.isoformat(),
            "Skew": self.skew.total_seconds(),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> TemporaryCredentials:
        """Inverse of :meth:`to_payload`; raises ``KeyError``/``ValueError``/``TypeError``."""
        fields = ("AccessKeyId", "SecretAccessKey", "SessionToken")
        if not all(isinstance(data[name], str) and data[name] for name in fields):
            raise ValueError("credential fields must be non-empty strings")
        return cls(
            access_key_id=data["AccessKeyId"],
            secret_access_key=data["SecretAccessKey"],
            session_token=data["SessionToken"],
            expires_at=parse_timestamp(data["Expiration"]),
            issued_at=parse_timestamp(data["IssuedAt"]),
            skew=timedelta(seconds=float(data.get("Skew", 0.0))),
        )


@dataclass(frozen=True)
class AccessToken:
    """The MDH REST API bearer token; the value stays out of ``repr``."""

    value: str = field(repr=False)
    expires_at: datetime
    issued_at: datetime
    skew: timedelta = timedelta(0)

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able form kept (encrypted) in a cache."""
        return {
            "AccessToken": self.value,
            "Expiration": self.expires_at.isoformat(),
            "IssuedAt": self.issued_at.isoformat(),
            "Skew": self.skew.total_seconds(),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AccessToken:
        """Inverse of :meth:`to_payload`; raises ``KeyError``/``ValueError``/``TypeError``."""
        if not isinstance(data["AccessToken"], str) or not data["AccessToken"]:
            raise ValueError("access token must be a non-empty string")
        return cls(
            value=data["AccessToken"],
            expires_at=parse_timestamp(data["Expiration"]),
            issued_at=parse_timestamp(data["IssuedAt"]),
            skew=timedelta(seconds=float(data.get("Skew", 0.0))),
        )


KIND_TOKEN = "token"
KIND_CREDENTIALS = "credentials"


@dataclass(frozen=True)
class CacheKey:
    """Where an entry lives: the SHA-256 of the identity's canonical JSON, and the entry kind.

    ``name`` is safe for file names, keyring usernames and DynamoDB keys: no secret is in it.
    """

    digest: str
    kind: str

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.digest}"

    @classmethod
    def for_identity(cls, identity: dict[str, str], kind: str) -> CacheKey:
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return cls(hashlib.sha256(canonical.encode()).hexdigest(), kind)

    @classmethod
    def parse_name(cls, name: str) -> CacheKey | None:
        """The key a backend's stored name stands for, or ``None`` for a foreign name."""
        kind, sep, digest = name.partition("-")
        valid = sep and kind in (KIND_TOKEN, KIND_CREDENTIALS) and len(digest) == 64
        if not valid or any(ch not in "0123456789abcdef" for ch in digest):
            return None
        return cls(digest, kind)
