"""Validate the two MDH answers (types, presence, lengths) before anything uses them."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from mdh_creds.clock import parse_timestamp, to_timestamp
from mdh_creds.errors import ExchangeRejected
from mdh_creds.freshness import MAX_TRUSTED_LIFETIME, to_local
from mdh_creds.models import AccessToken, TemporaryCredentials

MAX_TOKEN_LIFETIME = 86_400
MISSING_EXPIRATION_LIFETIME = timedelta(minutes=15)
_MAX_SECRET = 16_384
_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
_log = logging.getLogger(__name__)


def _text(answer: dict[str, Any], name: str, what: str, limit: int = _MAX_SECRET) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ExchangeRejected(f"the MDH {what} answer has no valid {name}", status=200)
    if len(value) > limit or not value.isprintable():
        raise ExchangeRejected(f"the MDH {what} answer has a malformed {name}", status=200)
    return value


def _object(answer: Any, what: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ExchangeRejected(f"the MDH {what} answer is not a JSON object", status=200)
    return answer


def parse_token_answer(answer: Any, server_now: datetime, skew: timedelta) -> AccessToken:
    """``{"access_token": str, "expires_in": seconds}`` -> AccessToken (times in server time)."""
    data = _object(answer, "token")
    value = _text(data, "access_token", "token")
    lifetime = data.get("expires_in")
    if isinstance(lifetime, str):
        text = lifetime.strip()
        if text.isascii() and text.isdecimal() and len(text) <= 12:
            lifetime = int(text)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
        raise ExchangeRejected("the MDH token answer has no valid expires_in", status=200)
    if not 0 < lifetime <= MAX_TOKEN_LIFETIME:
        raise ExchangeRejected(
            f"the MDH token answer has an impossible expires_in ({lifetime!r} s)", status=200
        )
    return AccessToken(value, server_now + timedelta(seconds=lifetime), server_now, skew)


def _expiration(data: dict[str, Any], server_now: datetime) -> datetime:
    raw = data.get("Expiration")
    if raw is None:
        _log.warning("MDH gave no Expiration: treating the credentials as valid for 15 minutes")
        return server_now + MISSING_EXPIRATION_LIFETIME
    if not isinstance(raw, str):
        raise ExchangeRejected("the MDH credentials answer has a malformed Expiration", status=200)
    try:
        return parse_timestamp(raw)
    except ValueError:
        pass
    try:  # no timezone: MDH's times are UTC
        naive = datetime.fromisoformat(raw.strip()[:26])
    except ValueError as exc:
        raise ExchangeRejected(
            "the MDH credentials answer has an unparsable Expiration", status=200
        ) from exc
    if naive.tzinfo is not None:
        raise ExchangeRejected(
            "the MDH credentials answer has an unparsable Expiration", status=200
        )
    return naive.replace(tzinfo=timezone.utc)


def parse_credentials_answer(
    answer: Any, server_now: datetime, skew: timedelta
) -> TemporaryCredentials:
    """The explorer answer -> TemporaryCredentials; an Expiration already past is rejected."""
    data = _object(answer, "credentials")
    key_id = _text(data, "AccessKeyId", "credentials", 128)
    if not _KEY_ID.match(key_id):
        raise ExchangeRejected("the MDH credentials answer has a malformed AccessKeyId", status=200)
    secret = _text(data, "SecretAccessKey", "credentials")
    token = _text(data, "SessionToken", "credentials")
    expires_at = _trusted(_expiration(data, server_now), server_now)
    # Expired by either clock is expired (freshness: the skew only ever makes entries older).
    if to_local(expires_at, server_now, skew) <= server_now - skew:
        raise ExchangeRejected(
            f"MDH returned credentials that expired at {to_timestamp(expires_at)}: if the local "
            "clock is wrong, fix it; otherwise retry later",
            status=200,
        )
    return TemporaryCredentials(key_id, secret, token, expires_at, server_now, skew)


def _trusted(expires_at: datetime, server_now: datetime) -> datetime:
    """An Expiration more than 12 hours away is trusted for 12 hours only (DESIGN 5)."""
    limit = server_now + timedelta(seconds=MAX_TRUSTED_LIFETIME)
    if expires_at <= limit:
        return expires_at
    _log.warning(
        "MDH gave credentials valid until %s; trusting them for 12 hours only",
        to_timestamp(expires_at),
    )
    return limit
