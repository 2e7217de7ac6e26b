"""The client assertion of DESIGN 2.1: an RS256 JWT whose signature comes from a ``Signer``.

A signer takes the JWT signing input (``header.claims``, base64url) and returns its RSASSA-PKCS1
v1.5 SHA-256 signature: the private key in memory (``mdh.keys.PrivateKey.signer``) or AWS KMS
``Sign`` (``mdh.kms_key.KmsAccountKey.signer``), so the key need never be on this machine.
The JWT itself is built in one place for both (RFC 7515 compact serialisation).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

Signer = Callable[[bytes], bytes]
_HEADER = {"alg": "RS256", "typ": "JWT"}  # plain JWT: the strict client-auth type changes MDH


def _b64url(data: bytes) -> str:
    return (
        binascii.b2a_base64(data, newline=False)
        .decode("ascii")
        .rstrip("=")
        .translate(str.maketrans("+/", "-_"))
    )


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def encode_assertion(claims: dict[str, Any], sign: Signer) -> str:
    """The compact JWT of ``claims``, signed by ``sign``."""
    signing_input = f"{_segment(_HEADER)}.{_segment(claims)}"
    return f"{signing_input}.{_b64url(sign(signing_input.encode('ascii')))}"
