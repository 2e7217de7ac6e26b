"""The little of HTTP/1.1 the credentials endpoint speaks: a request head parsed within limits, and
an answer written as bytes. Pure: no socket here.

A request is a request line and headers ending in an empty line (RFC 9112 sections 2 to 5),
within ``HEAD_LIMIT`` bytes and ``MAX_HEADERS`` headers. Anything else is a ``BadRequest`` with
the status to answer (400, 431, 505) and a message that quotes nothing the client sent. The
endpoint reads no bodies: a request that announces one is answered, then the connection closes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.utils import formatdate

HEAD_LIMIT = 16 * 1024  # bytes of request line and headers (SDKs send about 200)
MAX_HEADERS = 64
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class BadRequest(ValueError):
    """A request head that is not one the endpoint answers; ``status`` is the answer's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """One parsed request head. Header names are lower case; the values stay out of ``repr``
    (``Authorization`` holds the token)."""

    method: str
    target: str
    keep_alive: bool
    headers: dict[str, str] = field(repr=False)

    @property
    def has_body(self) -> bool:
        length = self.headers.get("content-length", "0").strip()
        return "transfer-encoding" in self.headers or length not in ("", "0")


def head_end(buffer: bytes | bytearray) -> int:
    """The length of the complete head at the start of ``buffer`` (its blank line included), or
    -1 while it is incomplete. Raises ``BadRequest`` (431) once the head outgrows the limit."""
    end = buffer.find(b"\r\n\r\n", 0, HEAD_LIMIT + 4)
    if end >= 0:
        return end + 4
    if len(buffer) > HEAD_LIMIT:
        raise BadRequest(431, "the request head is larger than 16 KiB")
    return -1


def parse_head(head: bytes) -> Request:
    """The request in ``head`` (as ``head_end`` delimits it); ``BadRequest`` says what is wrong."""
    lines = head[:-4].split(b"\r\n")
    method, target, version = _request_line(lines[0])
    headers = _headers(lines[1:])
    connection = headers.get("connection", "").lower()
    # HTTP/1.1 keeps a connection open unless told; HTTP/1.0 closes it unless told.
    old = version == b"HTTP/1.0"
    keep_alive = "keep-alive" in connection if old else "close" not in connection
    return Request(method, target, keep_alive, headers)


def _request_line(line: bytes) -> tuple[str, str, bytes]:
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise BadRequest(400, "the request line is not METHOD TARGET HTTP/1.1")
    if parts[2] not in _VERSIONS:
        raise BadRequest(505, "only HTTP/1.1 and HTTP/1.0 are served")
    if any(byte < 0x21 or byte == 0x7F for byte in parts[1]):
        raise BadRequest(400, "the request target holds control characters")
    return parts[0].decode("ascii"), parts[1].decode("latin-1"), parts[2]


def _headers(lines: list[bytes]) -> dict[str, str]:
    if len(lines) > MAX_HEADERS:
        raise BadRequest(431, f"more than {MAX_HEADERS} header fields")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadRequest(400, "a header field is malformed")
        key = name.decode("ascii").lower()
        if key in headers and key in ("authorization", "content-length", "host"):
            raise BadRequest(400, f"the {key} header is repeated")
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def answer_bytes(
    status: int,
    document: dict[str, object],
    *,
    keep_alive: bool,
    body: bool = True,
    extra: dict[str, str] | None = None,
) -> bytes:
    """A whole answer: status line, headers, and the JSON ``document`` (none for ``HEAD``)."""
    payload = json.dumps(document).encode("utf-8")
    headers = {
        "Server": "mdh-creds",
        "Date": formatdate(usegmt=True),
        "Content-Type": "application/json",
        "Content-Length": str(len(payload)),
        "Cache-Control": "no-store",
        "Connection": "keep-alive" if keep_alive else "close",
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    return head.encode("latin-1") + (payload if body else b"")
