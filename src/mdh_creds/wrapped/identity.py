"""The identity of a wrapped entry, and the chain that refuses a wrap running itself. Light: the
cache-hit fast path names its entry with ``wrap_identity``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mdh_creds.crypto import sha256_hex

CHAIN_VARIABLE = "MDH_CREDS_WRAP_CHAIN"  # the wraps above this one, ":"-joined short digests


def command_digest(argv: Sequence[str]) -> str:
    """SHA-256 (hex) of the command line's canonical JSON: no argument is kept in clear."""
    return sha256_hex(json.dumps(list(argv), separators=(",", ":")).encode("utf-8"))


def wrap_identity(argv: Sequence[str], name: str | None) -> dict[str, str]:
    """The identity of the entry: ``--name`` when given, else the command line's digest."""
    if name:
        return {"wrapped": name}
    return {"wrapped_command": command_digest(argv)}


def chain_link(argv: Sequence[str]) -> str:
    """This wrap's link in ``CHAIN_VARIABLE``."""
    return command_digest(argv)[:16]


def in_chain(chain: str, argv: Sequence[str]) -> bool:
    """True when a wrap of ``argv`` is already running above this process."""
    return chain_link(argv) in chain.split(":")
