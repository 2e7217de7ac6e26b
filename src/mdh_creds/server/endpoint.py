"""The container-credentials endpoint: ``GET /`` with the token answers the credentials held.

The protocol every AWS SDK reads (botocore, JS v3, Go v2, Java v2, Ruby, C++): the request
carries ``Authorization: <token>`` (no scheme), compared in constant time; the answer is 200
``{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"[, "AccountId"]}`` (``Token``, not
``SessionToken``), 401 without a token, 403 with a wrong one, 503 when no valid credentials are
held, 404 for another path and 405 for another method. Every error is ``{"Code", "Message"}``
and carries no secret. ``GET /healthz`` needs no token and says only whether valid credentials
are at hand (200 ``fresh`` or ``stale``, 503 ``unavailable``). Answers come from memory
(``CredentialKeeper``) on one thread that serves many connections (``server.loop``): a request
never waits for MDH, and the JS SDK, which gives up after one second, is never kept waiting.
"""

from __future__ import annotations

import hmac
import os
import secrets
import socket
import threading
from urllib.parse import urlsplit

from mdh_creds.clock import to_timestamp
from mdh_creds.models import TemporaryCredentials
from mdh_creds.redact import register_secret
from mdh_creds.server.keeper import CredentialKeeper
from mdh_creds.server.loop import MAX_CONNECTIONS, Reply, ServerLoop
from mdh_creds.server.wire import Request

TOKEN_BYTES = 32
LOOPBACK = "127.0.0.1"
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN_VARIABLE = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE_VARIABLE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
HEALTH_PATH = "/healthz"
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


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` with the system's largest backlog (32 SDK clients
    asking at once must not wait for room in the queue)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows this option lets another socket steal the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


class CredentialsApp:
    """The protocol, without the socket: one request in, one ``Reply`` out."""

    def __init__(self, keeper: CredentialKeeper, token: str, account_id: str | None) -> None:
        self.keeper = keeper
        self._token = token.encode("ascii")
        self.account_id = account_id

    def __call__(self, request: Request) -> Reply:
        refused = self._refusal(request.headers.get("authorization"))  # judged once
        status, document = self.answer(request.method, request.target, refused)
        extra = {"Allow": "GET"} if status == 405 else {}
        return Reply(status, dict(document), refused is None, extra)

    def answer(self, method: str, path: str, refused: Answer | None) -> Answer:
        """Status and JSON body for one request; ``refused`` is the token's refusal, if any."""
        route = urlsplit(path).path
        if method not in ("GET", "HEAD"):
            return _error(405, "MethodNotAllowed", "only GET is served")
        if route == HEALTH_PATH:
            return self.health()
        if route != "/":
            return _error(404, "NotFound", "credentials are served at / only")
        if refused is not None:
            return refused
        creds = self.keeper.current()
        if creds is None:
            return _error(
                503,
                "CredentialsUnavailable",
                "no valid credentials: refreshing them failed (see the mdh-creds log)",
            )
        return 200, credentials_document(creds, self.account_id)

    def _refusal(self, authorization: str | None) -> Answer | None:
        """401 without a token, 403 with a wrong one (compared in constant time), else None."""
        if not authorization:
            return _error(401, "Unauthorized", "the Authorization header is missing")
        given = authorization.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._token):
            return _error(403, "Forbidden", "the authorization token is wrong")
        return None

    def health(self) -> Answer:
        """``GET /healthz``, no token needed: whether valid credentials are at hand (``fresh``,
        or ``stale`` while a refresh is failing), and nothing else."""
        state = self.keeper.state()
        if state == "unavailable":
            return 503, {"Status": state}
        return 200, {"Status": state}


class Endpoint:
    """The endpoint's listening socket and the thread of its ``ServerLoop``; ``url`` is what SDKs
    are given."""

    def __init__(
        self,
        keeper: CredentialKeeper,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        account_id: str | None = None,
        token: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.token = token or new_token()
        self._listener = listening_socket(host, port)
        app = CredentialsApp(keeper, self.token, account_id)
        self._loop = ServerLoop(self._listener, app, max_connections=max_connections)
        self._thread = threading.Thread(
            target=self._loop.run, name="mdh-creds-endpoint", daemon=True
        )

    def __repr__(self) -> str:
        return f"Endpoint({self.url})"

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    @property
    def open_connections(self) -> int:
        return self._loop.open_connections

    def start(self) -> Endpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection and the listening socket."""
        self._loop.stop()
        if self._thread.is_alive():
            self._thread.join(5)
        self._listener.close()

    def variables(self, token_file: str | None = None) -> dict[str, str]:
        """What an SDK needs: the URL and one token variable (the file's, when given)."""
        if token_file is not None:
            return {FULL_URI: self.url, TOKEN_FILE_VARIABLE: token_file}
        return {FULL_URI: self.url, TOKEN_VARIABLE: self.token}
