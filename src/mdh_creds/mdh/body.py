"""Read one HTTP answer body within 1 MiB, on the wire and once decoded (DESIGN 6).

``Content-Length`` is checked before anything is read; the body is then read with a counter and
refused as soon as it passes the cap, and ``gzip``/``deflate`` are decoded here, each layer stopped
at the cap: a small gzip that would inflate to a gigabyte is refused after 1 MiB of output.
urllib3 never decodes (``decode_content=False``); an encoding we do not decode is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from mdh_creds.errors import ExchangeRejected
from mdh_creds.redact import printable

MAX_ANSWER = 1 << 20  # bytes: MDH's answers are a few KiB
_CHUNK = 16_384
_MAX_LAYERS = 2
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def too_large(label: str, status: int) -> ExchangeRejected:
    return ExchangeRejected(
        f"{label} sent an answer over 1 MiB; refused (check the URL points at MDH)", status=status
    )


def declared_length(headers: Mapping[str, str]) -> int | None:
    """``Content-Length`` as a number, or ``None`` when absent or not one number."""
    text = (headers.get("Content-Length") or "").strip()
    return int(text) if text.isascii() and text.isdecimal() and len(text) < 20 else None


def content_codings(headers: Mapping[str, str], label: str, status: int) -> list[str]:
    """The ``Content-Encoding`` layers to undo, outermost last; refused when not ours to decode."""
    raw = headers.get("Content-Encoding") or ""
    layers = (c.strip().lower() for c in raw.split(","))
    codings = [c for c in layers if c not in ("", "identity")]
    if len(codings) > _MAX_LAYERS or any(c not in _WBITS for c in codings):
        raise ExchangeRejected(
            f"{label} answered with an unsupported Content-Encoding ({printable(raw, 40)})",
            status=status,
        )
    return codings


def read_body(raw: Any, headers: Mapping[str, str], label: str, status: int) -> bytes:
    """The decoded body of ``raw`` (a urllib3 response), at most ``MAX_ANSWER`` bytes."""
    length = declared_length(headers)
    if length is not None and length > MAX_ANSWER:
        raise too_large(label, status)
    codings = content_codings(headers, label, status)
    wire = bytearray()
    while True:
        chunk = raw.read(_CHUNK, decode_content=False)
        if not chunk:
            break
        wire += chunk
        if len(wire) > MAX_ANSWER:
            raise too_large(label, status)
    data = bytes(wire)
    for coding in reversed(codings):
        data = _inflate(data, coding, label, status)
    return data


def _inflate(data: bytes, coding: str, label: str, status: int) -> bytes:
    """Undo one layer, stopping at ``MAX_ANSWER + 1`` bytes of output (never inflating all)."""
    attempts = [_WBITS[coding]] + ([-zlib.MAX_WBITS] if coding == "deflate" else [])
    for wbits in attempts:  # "deflate" is zlib-wrapped by the RFC, raw by some servers
        try:
            out = zlib.decompressobj(wbits).decompress(data, MAX_ANSWER + 1)
        except zlib.error:
            continue
        if len(out) > MAX_ANSWER:
            raise too_large(label, status)
        return out
    raise ExchangeRejected(f"{label} sent a {coding} answer that does not decode", status=status)
