"""Parsers for the text of one setting: each returns a value or raises ValueError saying why.

Light at import (the fast path reads its settings through them); URL and path parsers import
what they need (``cryptography`` has loaded those modules already on the fast path).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_MAX_TEXT = 16_384  # characters: room for a pasted PEM key, no room for a pasted file
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def parse_text(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("it is empty")
    if len(value) > _MAX_TEXT:
        raise ValueError("it is too long")
    return value


def parse_header_value(text: str) -> str:
    value = parse_text(text)
    if len(value) > 256 or any(ord(ch) < 0x20 or ord(ch) > 0x7E for ch in value):
        raise ValueError("it must be printable ASCII, at most 256 characters")
    return value


def parse_path_segment(text: str) -> str:
    value = parse_header_value(text)
    if any(ch in value for ch in "/?#% "):
        raise ValueError("it must not contain '/', '?', '#', '%' or spaces")
    return value


def parse_path(text: str) -> Path:
    from pathlib import Path

    try:
        return Path(parse_text(text)).expanduser()
    except RuntimeError:  # ~user for a user that does not exist
        raise ValueError("its ~user part names no known user") from None


def parse_ca_bundle(text: str) -> str:
    """A CA bundle file (or folder of certificates) that exists, ``~`` expanded. A string, not a
    ``Path``: the cache-hit path reads it whenever the variable is set and must stay light."""
    import os.path

    value = os.path.expanduser(parse_text(text))
    if not os.path.exists(value):
        raise ValueError("no such file or folder")
    return value


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_url(text: str) -> str:
    """An ``https://`` URL, or ``http://`` to a loopback host (local emulators and tests)."""
    from urllib.parse import urlsplit

    value = parse_text(text)
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("it must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError("http:// is only allowed for loopback hosts; use https://")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are not allowed")
    return value


def parse_url_template(text: str) -> str:
    """A URL that may hold ``{project_id}``, filled with the project id when the call is made."""
    parse_url(text.replace("{project_id}", "project-id"))
    return text.strip()


def parse_table_name(text: str) -> str:
    value = parse_text(text)
    if not _TABLE_NAME.match(value):
        raise ValueError("a DynamoDB table name is 3-255 of letters, digits, '_', '-', '.'")
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"not a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"not a whole number from {low} to {high}")
        return value

    return parse


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError(f"not a number from {low:g} to {high:g}") from None
        if not low <= value <= high:  # also rejects nan
            raise ValueError(f"not a number from {low:g} to {high:g}")
        return value

    return parse


def choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError(f"choose one of {', '.join(options)}")
        return value

    return parse
