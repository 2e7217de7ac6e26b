"""The container-credentials endpoint: ``GET /`` with the token answers the credentials held.

The protocol every AWS SDK reads (botocore, JS v3, Go v2, Java v2, Ruby, C++): the request
carries ``Authorization: <token>`` (no scheme), compared in constant time; the answer is 200
``{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"[, "AccountId"]}`` (``Token``, not
``SessionToken``), 401 without a token, 403 with a wrong one, 503 when no valid credentials are
held, 404 for another path and 405 for another method. Every error is ``{"Code", "Message"}``
and carries no secret. Answers come from memory (``CredentialKeeper``): a request never waits
for MDH, and the JS SDK, which gives up after one second, is never kept waiting.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mdh_creds.clock import to_timestamp
from mdh_creds.models import TemporaryCredentials
from mdh_creds.redact import register_secret
from mdh_creds.server.keeper import CredentialKeeper

TOKEN_BYTES = 32
LOOPBACK = "127.0.0.1"
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN_VARIABLE = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE_VARIABLE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
_log = logging.getLogger(__name__)
Answer = tuple[int, dict[str, str]]


def new_token() -> str:
    """32 random bytes, base64url without padding: 43 characters, never a CR or LF."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    register_secret(token)
    return token


def credentials_document(creds: TemporaryCredentials, account_id: str | None) -> dict[str, str]:
    """The 200 body: ``Token`` for the session token, the expiry on this machine's clock."""
    document = {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": to_timestamp(creds.local_expires_at),
    }
    if account_id:
        document["AccountId"] = account_id
    return document


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"Code": code, "Message": message}


class CredentialsServer(ThreadingHTTPServer):
    """A threading HTTP server that answers from ``keeper`` to requests carrying ``token``."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        keeper: CredentialKeeper,
        token: str,
        account_id: str | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.keeper = keeper
        self._token = token.encode("ascii")
        self.account_id = account_id

    def answer(self, method: str, path: str, authorization: str | None) -> Answer:
        """Status and JSON body for one request (the whole protocol, without the socket)."""
        if method != "GET":
            return _error(405, "MethodNotAllowed", "only GET is served")
        if urlsplit(path).path != "/":
            return _error(404, "NotFound", "credentials are served at / only")
        if not authorization:
            return _error(401, "Unauthorized", "the Authorization header is missing")
        given = authorization.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._token):
            return _error(403, "Forbidden", "the authorization token is wrong")
        creds = self.keeper.current()
        if creds is None:
            return _error(
                503,
                "CredentialsUnavailable",
                "no valid credentials: refreshing them failed (see the mdh-creds log)",
            )
        return 200, credentials_document(creds, self.account_id)


class _Handler(BaseHTTPRequestHandler):
    """One connection; keep-alive (HTTP/1.1), idle connections closed after 30 s."""

    server: CredentialsServer
    protocol_version = "HTTP/1.1"
    server_version = "mdh-creds"
    sys_version = ""
    timeout = 30
    # Headers and body leave in two writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK (40 ms on Linux) on every kept-alive request.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._respond(self.command)

    def do_HEAD(self) -> None:
        self._respond(self.command, body=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _respond(self, method: str, *, body: bool = True) -> None:
        status, document = self.server.answer(method, self.path, self.headers["Authorization"])
        payload = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if status == 405:
            self.send_header("Allow", "GET")
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Never the headers (the token); the path as a repr, so nothing raw reaches a terminal.
        _log.debug("%s %r -> %s", self.command, self.path[:200], code)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("endpoint: %s", (format % args)[:200].encode("unicode_escape").decode())


class Endpoint:
    """A running ``CredentialsServer`` in a daemon thread; ``url`` is what SDKs are given."""

    def __init__(
        self,
        keeper: CredentialKeeper,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        account_id: str | None = None,
        token: str | None = None,
    ) -> None:
        self.token = token or new_token()
        self._server = CredentialsServer((host, port), keeper, self.token, account_id)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="mdh-creds-endpoint",
            daemon=True,
        )

    def __repr__(self) -> str:
        return f"Endpoint({self.url})"

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start(self) -> Endpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the socket; open keep-alive connections die with their threads."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def variables(self, token_file: str | None = None) -> dict[str, str]:
        """What an SDK needs: the URL and one token variable (the file's, when given)."""
        if token_file is not None:
            return {FULL_URI: self.url, TOKEN_FILE_VARIABLE: token_file}
        return {FULL_URI: self.url, TOKEN_VARIABLE: self.token}
