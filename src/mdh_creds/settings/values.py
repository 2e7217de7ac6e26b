"""Parsers for the text of one setting: each returns a value or raises ValueError saying why.

Light at import (the fast path reads its settings through them); URL and path parsers import
what they need (``cryptography`` has loaded those modules already on the fast path).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

_MAX_TEXT = 16_384  # characters: room for a pasted PEM key, no room for a pasted file
_URL_FORBIDDEN = frozenset('"<>\\^`{|}')
_TABLE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
PASTED_KEY = (
    "this looks like a key, not a {what}: save the key in a file (chmod 600) and give its path, "
    "or put the key in MDH_PRIVATE_KEY"
)
T = TypeVar("T")


class NotShown(ValueError):
    """The text looks like a secret: the error must not echo it."""


def refusing_keys(parse: Callable[[str], T], what: str = "value") -> Callable[[str], T]:
    """``parse``, refusing text that holds a private key without echoing it (DESIGN 6: a setting
    that is not the key never carries one, so no error, ``status`` or ``configure`` shows it)."""

    def checked(text: str) -> T:
        from mdh_creds.settings.pasted import looks_like_key

        if looks_like_key(text):
            raise NotShown(PASTED_KEY.format(what=what))
        return parse(text)

    return checked


def parse_text(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("it is empty")
    if len(value) > _MAX_TEXT:
        raise ValueError("it is too long")
    return value


def parse_printable(text: str) -> str:
    """One line of printable characters (any script): a client id or secret."""
    value = parse_text(text)
    if not value.isprintable():
        raise ValueError("it must be one line of printable characters")
    return value


def parse_passphrase(text: str) -> str:
    """A private key's passphrase, kept exactly as given (spaces are part of it)."""
    if not text:
        raise ValueError("it is empty")
    if len(text) > _MAX_TEXT:
        raise ValueError("it is too long")
    return text


def parse_kms_key_id(text: str) -> str:
    """A KMS key id, alias (``alias/NAME``) or ARN: printable ASCII with no spaces."""
    value = parse_text(text)
    if len(value) > 2048 or any(ord(ch) <= 0x20 or ord(ch) > 0x7E for ch in value):
        raise ValueError("a KMS key id, alias/NAME or key ARN has no spaces and is ASCII")
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


def parse_path(text: str) -> str:
    """A path with ``~`` expanded (``os.path``: no pathlib on the cache-hit path). A private
    key pasted where its path belongs is refused, unechoed, by ``refusing_keys`` (``specs``)."""
    value = os.path.expanduser(parse_text(text))
    if value.startswith("~"):  # ~user for a user that does not exist stays unexpanded
        raise ValueError("its ~user part names no known user")
    return value


def parse_ca_bundle(text: str) -> str:
    """A CA bundle file (or folder of certificates) that exists, ``~`` expanded (as
    ``parse_path``, light: the cache-hit path reads it whenever the variable is set)."""
    value = parse_text(text)
    if "-----BEGIN" in value:
        raise ValueError("this looks like a certificate, not a path: save it in a file")
    value = os.path.expanduser(value)
    if not os.path.exists(value):
        raise ValueError("no such file or folder")
    return value


def is_loopback(host: str) -> bool:
    """``localhost``, an IPv4 address in 127.0.0.0/8 (dotted quad) or an IPv6 loopback."""
    if host.lower() == "localhost":
        return True
    if ":" in host:  # IPv6: rare here, so ipaddress is imported only for it
        import ipaddress

        try:
            return ipaddress.IPv6Address(host).is_loopback
        except ValueError:
            return False
    parts = host.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
        return False
    return int(parts[0]) == 127


def _split_url(value: str) -> tuple[str, str]:
    """``(scheme, host)`` of an absolute URL; ``ValueError`` for anything urlsplit would not
    take as one, or that holds credentials. String operations only: it runs on every hit."""
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F or ch in _URL_FORBIDDEN for ch in value):
        raise ValueError("not a URL (it holds spaces, control characters or quotes)")
    scheme, sep, rest = value.partition("://")
    if not sep or not scheme.isascii() or not scheme.isalpha():
        raise ValueError("it must be an https:// URL")
    netloc = rest
    for end in "/?#":
        netloc = netloc.partition(end)[0]
    if "@" in netloc:
        raise ValueError("credentials in the URL are not allowed")
    if netloc.startswith("["):
        host, close, after = netloc[1:].partition("]")
        if not close or (after and not after.startswith(":")):
            raise ValueError("not a URL (a bracketed host must be [address] or [address]:port)")
        port = after[1:]
    else:
        host, _, port = netloc.partition(":")
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise ValueError(f"not a URL (bad port {port!r})")
    return scheme.lower(), host


def parse_url(text: str) -> str:
    """An ``https://`` URL, or ``http://`` to a loopback host (local emulators and tests)."""
    value = parse_text(text)
    scheme, host = _split_url(value)
    if scheme not in ("https", "http") or not host:
        raise ValueError("it must be an https:// URL")
    if scheme == "http" and not is_loopback(host):
        raise ValueError("http:// is only allowed for loopback hosts; use https://")
    return value


def parse_url_template(text: str) -> str:
    """A URL that may hold ``{project_id}``, filled with the project id when the call is made."""
    parse_url(text.replace("{project_id}", "project-id"))
    return text.strip()


def parse_account_id(text: str) -> str:
    """An AWS account id: exactly 12 ASCII digits (botocore's ``aws_account_id``)."""
    value = text.strip()
    if len(value) != 12 or not all("0" <= ch <= "9" for ch in value):
        raise ValueError("an AWS account id is exactly 12 digits")
    return value


def parse_table_name(text: str) -> str:
    value = parse_text(text)
    if not 3 <= len(value) <= 255 or value.strip(_TABLE_CHARS):  # [A-Za-z0-9_.-]{3,255}
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
