"""Normalise a pasted private key to PEM and its DER bytes, without parsing the RSA key; find an
encrypted key and open it with its passphrase.

MDH users paste keys as PKCS#1 or PKCS#8 PEM, on one line, with literal ``\\n``, or base64-encoded
whole. Light: the cache-hit fast path derives the cache key from the DER bytes alone. An encrypted
key (PKCS#8 ``ENCRYPTED PRIVATE KEY``, or OpenSSL's ``Proc-Type: 4,ENCRYPTED``) is opened into the
same PKCS#1 form, so it seals the cache as the plain key would.
"""

from __future__ import annotations

import binascii
import re

# The cache-hit fast path reads a key on every run: only ``_PEM`` is compiled there; the other
# patterns are plain strings (``re`` compiles them on first use), behind cheap str checks.
_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)
_KINDS = ("RSA PRIVATE KEY", "PRIVATE KEY")
_BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PROC_TYPE = r"Proc-Type:\s*4,\s*ENCRYPTED"  # re.IGNORECASE
_DEK_INFO = r"DEK-Info:\s*([A-Za-z0-9-]+,[0-9A-Fa-f]+)"


def b64decode_strict(text: str) -> bytes:
    """Strict base64 (as ``base64.b64decode(validate=True)``), without importing ``base64``."""
    data = text.rstrip("=")  # ``[A-Za-z0-9+/]*={0,2}`` in full, without a regex
    if len(text) - len(data) > 2 or data.strip(_BASE64_CHARS):
        raise ValueError("not base64")
    try:
        return binascii.a2b_base64(text)
    except binascii.Error:
        raise ValueError("not base64") from None


def normalise_pem(text: str) -> tuple[str, str, bytes]:
    """``(pem, base64 body, der)``; ``ValueError`` says what is wrong, phrased to follow
    "the private key from SOURCE"."""
    match = _PEM.search(_cleaned(text))
    if not match:
        raise ValueError("is not a PEM key (no BEGIN/END lines)")
    kind, body = match.group(1), _no_space(match.group(2))
    if "ENCRYPTED" in kind or _proc_type(match.group(2)):
        raise ValueError("is encrypted: it needs its passphrase")
    if kind not in _KINDS:
        raise ValueError(f"is a {kind}, not an RSA private key")
    try:
        der = b64decode_strict(body)
    except ValueError:
        raise ValueError("is malformed (bad base64)") from None
    if len(der) < 64:
        raise ValueError("is truncated")
    return _wrap(kind, body), body, der


def _no_space(text: str) -> str:
    """``re.sub(r"\\s+", "", text)``: ``str.split`` splits at the same (Unicode) whitespace."""
    return "".join(text.split())


def _proc_type(text: str) -> bool:
    """OpenSSL's ``Proc-Type: 4,ENCRYPTED`` header in ``text`` (any case)."""
    return "proc-type" in text.lower() and re.search(_PROC_TYPE, text, re.IGNORECASE) is not None


def _cleaned(text: str) -> str:
    cleaned = text.strip().replace("\\n", "\n").replace("\\r", "")
    return cleaned if "-----BEGIN" in cleaned else _unwrap_base64(cleaned)


def _wrap(kind: str, body: str, headers: str = "") -> str:
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{headers}{lines}\n-----END {kind}-----\n"


def encrypted_pem(text: str) -> str | None:
    """The normalised PEM of an encrypted private key, or ``None`` when ``text`` is not one."""
    try:
        match = _PEM.search(_cleaned(text))
    except ValueError:
        return None
    if match is None:
        return None
    kind, inner = match.group(1), match.group(2)
    if kind == "ENCRYPTED PRIVATE KEY":
        return _wrap(kind, _no_space(inner))
    if kind != "RSA PRIVATE KEY" or not _proc_type(inner):
        return None
    dek = re.search(_DEK_INFO, inner)
    if dek:
        headers = f"Proc-Type: 4,ENCRYPTED\nDEK-Info: {dek.group(1)}\n\n"
        return _wrap(kind, _no_space(inner[dek.end() :]), headers)
    return None


def decrypt_pem(encrypted: str, passphrase: str) -> tuple[str, str, bytes]:
    """The key ``encrypted_pem`` found, opened: ``(pem, base64 body, der)`` as ``normalise_pem``
    gives them, in PKCS#1. ``ValueError`` phrased to follow "the private key from SOURCE"."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(
            encrypted.encode("ascii"), password=passphrase.encode("utf-8")
        )
    except (ValueError, TypeError):  # the message may quote nothing secret, but say less
        raise ValueError("does not open with that passphrase (wrong passphrase?)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("is not an RSA key (RS256 needs one)")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    body = binascii.b2a_base64(der, newline=False).decode("ascii")
    return _wrap("RSA PRIVATE KEY", body), body, der


def _unwrap_base64(text: str) -> str:
    try:
        decoded = b64decode_strict(_no_space(text)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("is neither PEM nor base64-encoded PEM") from None
    if "-----BEGIN" not in decoded:
        raise ValueError("is neither PEM nor base64-encoded PEM")
    return decoded
