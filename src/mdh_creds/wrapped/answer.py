"""What a wrapped ``credential_process`` must print, checked, and what ``wrap`` prints back.

The document is botocore's: ``Version`` the integer 1, ``AccessKeyId`` and ``SecretAccessKey``
non-empty strings, ``SessionToken`` an optional string, ``Expiration`` an ISO 8601 time. The
``Expiration`` is required, since a cache must know when an entry ends; a command that prints
none (long-term keys) is accepted only with ``--default-lifetime SECONDS``, which then dates the
entry that far from now. No message ever holds a value of the document: only field names.

Light at import: the cache-hit fast path renders its answer with ``document``.
"""

from __future__ import annotations

import json
from typing import Any

MAX_OUTPUT = 1 << 20  # bytes: a larger answer is refused, as an MDH answer is


class AnswerError(ValueError):
    """The output is no valid credential_process document; the message names what is wrong."""


def parse_answer(output: bytes) -> dict[str, Any]:
    """The checked document (``SessionToken`` ``""`` when absent, ``Expiration`` ``None``)."""
    if len(output) > MAX_OUTPUT:
        raise AnswerError(f"printed more than {MAX_OUTPUT} bytes")
    try:
        data = json.loads(output.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AnswerError("printed no JSON document") from None
    if not isinstance(data, dict):
        raise AnswerError("printed JSON that is not an object")
    version = data.get("Version")
    if version != 1 or isinstance(version, bool):
        raise AnswerError('printed no "Version": 1')
    for name in ("AccessKeyId", "SecretAccessKey"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise AnswerError(f"printed no {name} (a non-empty string)")
    token = data.get("SessionToken") or ""
    if not isinstance(token, str):
        raise AnswerError("printed a SessionToken that is not a string")
    expiration = data.get("Expiration")
    if expiration is not None and (not isinstance(expiration, str) or not expiration):
        raise AnswerError("printed an Expiration that is not a string")
    return {
        "AccessKeyId": data["AccessKeyId"],
        "SecretAccessKey": data["SecretAccessKey"],
        "SessionToken": token,
        "Expiration": expiration,
    }


def document(key_id: str, secret: str, token: str, expiration: str) -> str:
    """The credential_process JSON ``wrap`` prints; no ``SessionToken`` for long-term keys."""
    found: dict[str, object] = {"Version": 1, "AccessKeyId": key_id, "SecretAccessKey": secret}
    if token:
        found["SessionToken"] = token
    found["Expiration"] = expiration
    return json.dumps(found)
