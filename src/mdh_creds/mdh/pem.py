"""Normalise a pasted private key to PEM and its DER bytes, without parsing the RSA key.

MDH users paste keys as PKCS#1 or PKCS#8 PEM, on one line, with literal ``\\n``, or base64-encoded
whole. Light: the cache-hit fast path derives the cache key from the DER bytes alone.
"""

from __future__ import annotations

import binascii
import re

_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)
_KINDS = ("RSA PRIVATE KEY", "PRIVATE KEY")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _b64decode(text: str) -> bytes:
    """Strict base64 (as ``base64.b64decode(validate=True)``), without importing ``base64``."""
    if not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    try:
        return binascii.a2b_base64(text)
    except binascii.Error:
        raise ValueError("not base64") from None


def normalise_pem(text: str) -> tuple[str, str, bytes]:
    """``(pem, base64 body, der)``; ``ValueError`` says what is wrong, phrased to follow
    "the private key from SOURCE"."""
    cleaned = text.strip().replace("\\n", "\n").replace("\\r", "")
    if "-----BEGIN" not in cleaned:
        cleaned = _unwrap_base64(cleaned)
    match = _PEM.search(cleaned)
    if not match:
        raise ValueError("is not a PEM key (no BEGIN/END lines)")
    kind, body = match.group(1), re.sub(r"\s+", "", match.group(2))
    if kind not in _KINDS:
        hint = " (decrypt it first)" if "ENCRYPTED" in kind else ""
        raise ValueError(f"is a {kind}, not an RSA private key{hint}")
    try:
        der = _b64decode(body)
    except ValueError:
        raise ValueError("is malformed (bad base64)") from None
    if len(der) < 64:
        raise ValueError("is truncated")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n", body, der


def _unwrap_base64(text: str) -> str:
    try:
        decoded = _b64decode(re.sub(r"\s+", "", text)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("is neither PEM nor base64-encoded PEM") from None
    if "-----BEGIN" not in decoded:
        raise ValueError("is neither PEM nor base64-encoded PEM")
    return decoded
