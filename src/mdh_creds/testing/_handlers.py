"""HTTP plumbing of the emulator: the threaded server and its request handler."""

from __future__ import annotations

import dataclasses
import socketserver
import sys
import traceback
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mdh_creds.testing._endpoints import Incoming, Outcome, answer, route
from mdh_creds.testing._models import (
    Headers,
    RecordedRequest,
    Response,
    error_name,
    json_error,
)
from mdh_creds.testing._state import EmulatorState

__all__ = ["EmulatorServer"]

_MAX_BODY = 1 << 20


class EmulatorServer(ThreadingHTTPServer):
    """A threaded HTTP server whose handlers share one :class:`EmulatorState`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: EmulatorState) -> None:
        self.state = state
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer`` does (slow on some hosts)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep unexpected handler errors for inspection instead of printing them."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            self.state.note_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # answer garbage request lines with a status line
    server_version = "MdhEmulator/1.0"
    sys_version = ""
    timeout = 60
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: no per-request logging."""

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_POST

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol-level errors with JSON like every other answer."""
        self.close_connection = True
        self._send(json_error(code, error_name(code)))

    def _dispatch(self) -> None:
        epoch = self.server.state.epoch()
        path = urlsplit(self.path).path
        endpoint, project = route(path)
        headers = Headers(dict(self.headers.items()))
        body = self._read_body()
        if isinstance(body, Response):
            self.close_connection = True
            outcome = Outcome(body, reason="unreadable body")
        else:
            outcome = self._answer(Incoming(endpoint, self.command, path, project, headers, body))
        record = _recorded(endpoint, self.command, path, headers, outcome)
        host, port = self.client_address[:2]
        self.server.state.record(dataclasses.replace(record, peer=f"{host}:{port}"), epoch)
        self._send(outcome.response)

    def _answer(self, request: Incoming) -> Outcome:
        try:
            return answer(self.server.state, request)
        except Exception:
            self.server.state.note_error(traceback.format_exc())
            return Outcome(json_error(500, "server_error"), reason="emulator error")

    def _read_body(self) -> bytes | Response:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return json_error(411, "length_required")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            return json_error(400, "invalid_request")
        if length < 0:
            return json_error(400, "invalid_request")
        if length > _MAX_BODY:
            return json_error(413, "request_too_large")
        return self.rfile.read(length)

    def _send(self, response: Response) -> None:
        fields = {
            "date": ("Date", formatdate(self.server.state.now(), usegmt=True)),
            "server": ("Server", self.version_string()),
            "content-type": ("Content-Type", response.content_type),
        }
        for name, value in response.headers.items():
            fields[name.lower()] = (name, value)
        fields["content-length"] = ("Content-Length", str(len(response.body)))
        if self.close_connection:
            fields["connection"] = ("Connection", "close")
        self.send_response_only(response.status)
        for name, value in fields.values():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _recorded(
    endpoint: str, method: str, path: str, headers: Headers, outcome: Outcome
) -> RecordedRequest:
    return RecordedRequest(
        endpoint=endpoint,
        method=method,
        path=path,
        headers=headers,
        status=outcome.response.status,
        form=outcome.form,
        claims=outcome.claims,
        jwt_header=outcome.jwt_header,
        account=outcome.account,
        reason=outcome.reason,
    )
