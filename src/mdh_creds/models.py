"""Immutable values: the AWS credentials and the access token, as exchanged and as cached.

Where either is kept (``CacheKey``, the entry kinds) belongs to ``cache.stored``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mdh_creds.clock import parse_timestamp
from mdh_creds.freshness import local_lifetime, to_local

__all__ = ["AccessToken", "TemporaryCredentials"]


class _ServerTimes:
    """What an entry's server-clock times mean on this machine (``freshness``'s skew rule)."""

    expires_at: datetime
    issued_at: datetime
    skew: timedelta

    @property
    def local_expires_at(self) -> datetime:
        """The expiry on this machine's clock (what SDKs and backends compare with)."""
        return to_local(self.expires_at, self.issued_at, self.skew)

    @property
    def lifetime(self) -> timedelta:
        """How long it was valid for when it arrived, on this machine's clock."""
        return local_lifetime(self.expires_at, self.issued_at, self.skew)


@dataclass(frozen=True)
class TemporaryCredentials(_ServerTimes):
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
            # Epoch seconds too: the fast path judges freshness without importing datetime.
            "ExpiresEpoch": self.expires_at.timestamp(),
            "IssuedEpoch": self.issued_at.timestamp(),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> TemporaryCredentials:
        """Inverse of :meth:`to_payload`; raises ``KeyError``/``ValueError``/``TypeError``."""
        fields = ("AccessKeyId", "SecretAccessKey")
        if not all(isinstance(data[name], str) and data[name] for name in fields):
            raise ValueError("credential fields must be non-empty strings")
        if not isinstance(data["SessionToken"], str):  # empty: long-term keys a wrap keeps
            raise ValueError("the session token must be a string")
        return cls(
            access_key_id=data["AccessKeyId"],
            secret_access_key=data["SecretAccessKey"],
            session_token=data["SessionToken"],
            expires_at=parse_timestamp(data["Expiration"]),
            issued_at=parse_timestamp(data["IssuedAt"]),
            skew=timedelta(seconds=float(data.get("Skew", 0.0))),
        )


@dataclass(frozen=True)
class AccessToken(_ServerTimes):
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
