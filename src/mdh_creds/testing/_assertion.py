"""Verification of a client assertion JWT the way the MyDataHelps token endpoint does it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["LEEWAY", "MAX_LIFETIME", "AssertionRejected", "peek", "verify_assertion"]

#: Clock tolerance in seconds for ``exp``, ``iat`` and ``nbf``.
LEEWAY = 300
#: Longest accepted assertion lifetime in seconds (before leeway).
MAX_LIFETIME = 300
_REQUIRED = ["exp", "iat", "jti", "iss", "sub", "aud"]


class AssertionRejected(Exception):
    """The assertion is not acceptable; the message says why (never shown to clients)."""


def peek(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The JWT header and claims decoded without any verification, ``None`` where unreadable."""
    try:
        header: dict[str, Any] | None = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None, None
    try:
        claims: dict[str, Any] | None = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        claims = None
    return header, claims


def verify_assertion(
    token: str,
    *,
    lookup: Callable[[str], RSAPublicKey | None],
    audience: str,
    now: float,
) -> dict[str, Any]:
    """Verified claims of ``token``; raise :class:`AssertionRejected` on any problem.

    ``lookup`` maps an issuer to its registered public key; ``now`` is the server clock.
    The replay check of ``jti`` is left to the caller.
    """
    header, unverified = peek(token)
    if header is None or unverified is None:
        raise AssertionRejected("not a JWT")
    if header.get("alg") != "RS256":
        raise AssertionRejected(f"algorithm {header.get('alg')!r} is not RS256")
    issuer = unverified.get("iss")
    key = lookup(issuer) if isinstance(issuer, str) else None
    if key is None:
        raise AssertionRejected("unknown issuer")
    claims = _decode(token, key, audience)
    _check_identity(claims, audience)
    _check_times(claims, now)
    return claims


def _decode(token: str, key: RSAPublicKey, audience: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise AssertionRejected(f"invalid token: {exc}") from exc
    return claims


def _check_identity(claims: dict[str, Any], audience: str) -> None:
    if claims["aud"] != audience:
        raise AssertionRejected("aud must be exactly the token URL")
    if claims["iss"] != claims["sub"]:
        raise AssertionRejected("iss and sub differ")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise AssertionRejected("jti must be a non-empty string")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_times(claims: dict[str, Any], now: float) -> None:
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise AssertionRejected("exp must be an integer")
    if not _is_number(iat):
        raise AssertionRejected("iat must be a number")
    if exp + LEEWAY < now:
        raise AssertionRejected("assertion expired")
    if exp > now + MAX_LIFETIME + LEEWAY or exp > iat + MAX_LIFETIME + LEEWAY:
        raise AssertionRejected("assertion lifetime too long")
    if iat > now + LEEWAY:
        raise AssertionRejected("iat in the future")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or nbf > now + LEEWAY):
        raise AssertionRejected("not yet valid")
