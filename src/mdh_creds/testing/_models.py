"""Value types shared by the emulator: endpoints, recorded requests, faults, minters."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

__all__ = [
    "ENDPOINTS",
    "Fault",
    "Headers",
    "MintRequest",
    "Minter",
    "RecordedRequest",
    "Response",
    "Transform",
    "error_name",
    "format_expiration",
    "json_error",
    "random_minter",
    "resolve_endpoint",
    "sequence_minter",
]

#: Endpoints a request can be attributed to; "other" collects unknown paths. "client_token" is
#: the client-secret grant's token endpoint (an API client's id and secret, RFC 6749 4.4).
ENDPOINTS = ("token", "client_token", "legacy", "explorer", "other")
_ALIASES = {"exchange": ("legacy", "explorer")}
_REDACTED_HEADERS = frozenset({"authorization", "cookie"})
_REDACTED_FORM = frozenset({"client_assertion", "client_secret"})


def resolve_endpoint(name: str, *, allow_other: bool = False) -> tuple[str, ...]:
    """The concrete endpoints ``name`` stands for ("exchange" means legacy and explorer)."""
    if name in _ALIASES:
        return _ALIASES[name]
    if name in ENDPOINTS and (allow_other or name != "other"):
        return (name,)
    raise ValueError(
        f"unknown endpoint {name!r}; expected token, client_token, legacy, explorer or exchange"
    )


@dataclass(frozen=True)
class MintRequest:
    """What the emulator knows when it mints one set of credentials."""

    account: str
    project: str
    sequence: int


#: Produces AccessKeyId, SecretAccessKey and SessionToken for one successful exchange.
Minter = Callable[[MintRequest], Mapping[str, str]]
#: Rewrites a successful JSON answer before it is sent.
Transform = Callable[[dict[str, Any]], dict[str, Any]]

_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def random_minter(request: MintRequest) -> dict[str, str]:
    """Random credentials shaped like real temporary AWS credentials."""
    del request
    return {
        "AccessKeyId": "ASIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16)),
        "SecretAccessKey": "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
        "SessionToken": "IQoJb3JpZ2luX2Vj" + secrets.token_urlsafe(480),
    }


def sequence_minter() -> Minter:
    """A minter whose n-th credentials are ``ASIA<n:016d>``, ``secret-<n>``, ``token-<n>``."""

    def mint(request: MintRequest) -> dict[str, str]:
        n = request.sequence
        return {
            "AccessKeyId": f"ASIA{n:016d}",
            "SecretAccessKey": f"secret-{n}",
            "SessionToken": f"token-{n}",
        }

    return mint


def format_expiration(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z`` suffix: ``2024-06-19T21:56:16.123Z``."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


class Headers(Mapping[str, str]):
    """Read-only request headers with case-insensitive lookup; secrets redacted in ``repr``."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in (items or {}).items():
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self) -> str:
        shown = {
            name: "<redacted>" if key in _REDACTED_HEADERS else value
            for key, (name, value) in self._items.items()
        }
        return f"Headers({shown!r})"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received, with the status it answered.

    ``form`` is set for token requests; ``claims`` and ``jwt_header`` hold the client
    assertion decoded without verification (``None`` when absent or undecodable).
    ``account`` is the service account the request was attributed to, if any, and
    ``reason`` says why the emulator refused it (its answers never do).
    """

    endpoint: str
    method: str
    path: str
    headers: Headers
    status: int
    form: dict[str, str] | None = field(default=None, repr=False)
    claims: dict[str, Any] | None = None
    jwt_header: dict[str, Any] | None = None
    account: str | None = None
    reason: str | None = None

    def __repr__(self) -> str:
        form = None
        if self.form is not None:
            form = {k: "<redacted>" if k in _REDACTED_FORM else v for k, v in self.form.items()}
        return (
            f"RecordedRequest(endpoint={self.endpoint!r}, method={self.method!r}, "
            f"path={self.path!r}, status={self.status}, account={self.account!r}, "
            f"reason={self.reason!r}, "
            f"headers={self.headers!r}, form={form!r}, claims={self.claims!r})"
        )


@dataclass(frozen=True)
class Fault:
    """A canned answer that replaces normal processing of one request."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True)
class Response:
    """An answer ready to be written: status, body and extra headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def from_fault(cls, fault: Fault) -> Response:
        return cls(fault.status, fault.body, fault.headers, fault.content_type)


def error_name(status: int) -> str:
    """A snake_case error code for ``status``: ``server_error`` for 5xx, else its phrase."""
    if status >= 500:
        return "server_error"
    named = {400: "invalid_request", 401: "unauthorized", 403: "forbidden"}
    if status in named:
        return named[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def json_error(status: int, error: str) -> Response:
    """An RFC 6749 style ``{"error": ...}`` answer."""
    return Response(status, json.dumps({"error": error}).encode())
