"""A counting HTTP proxy on 127.0.0.1 in front of an AWS endpoint (moto): who called what, and
how often.

Give each simulated machine its own endpoint URL, ``proxy.url_for("machine-7")``
(``http://127.0.0.1:<port>/_/machine-7``): botocore sends every request under that path, the proxy
strips the prefix, forwards the request to the upstream server unchanged, and records the caller's
label, the operation (``GetItem``, ``PutItem``... from ``X-Amz-Target``), the item key it names
(``pk``, which holds no secret) and the User-Agent. ``throttle`` picks requests to refuse as
DynamoDB does when it throttles. Requests to the bare ``proxy.url`` are
recorded under the label ``""``. Standard library only; used by the tests and ``make bench``.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PREFIX = "/_/"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
_OWN_HEADERS = {"content-length", "date", "server"}  # the proxy's own answer sets these
_THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": "Rate of requests exceeds the allowed throughput.",
    }
).encode()
_THROTTLED_HEADERS = [("Content-Type", "application/x-amz-json-1.0")]


@dataclass(frozen=True)
class Recorded:
    """One request that went through the proxy."""

    label: str
    operation: str
    key: str
    user_agent: str

    @property
    def is_lease(self) -> bool:
        return self.key.startswith("lease#")

    @property
    def is_write(self) -> bool:
        return self.operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


def _operation(headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target") or ""
    if target:
        return str(target).rsplit(".", 1)[-1]
    action = urllib.parse.parse_qs(body.decode("latin-1")).get("Action")
    return action[0] if action else "other"


def _item_key(body: bytes) -> str:
    try:
        document = json.loads(body or b"{}")
        item = document.get("Key") or document.get("Item") or {}
        return str(item.get("pk", {}).get("S", ""))
    except (ValueError, AttributeError):
        return ""


class CountingProxy:
    """Forwards to ``upstream`` and records every request; ``start()``/``stop()`` or ``with``."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self._records: list[Recorded] = []
        self._guard = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: Requests to answer with DynamoDB's ``ThrottlingException`` instead of forwarding.
        self.throttle: Callable[[Recorded], bool] = lambda _: False

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> CountingProxy:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="counting-proxy")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_for(self, label: str) -> str:
        """The endpoint URL whose requests are recorded under ``label`` (no ``/`` in it)."""
        return f"{self.url}{_PREFIX}{urllib.parse.quote(label, safe='')}"

    def records(self, label: str | None = None) -> list[Recorded]:
        with self._guard:
            return [r for r in self._records if label is None or r.label == label]

    def counts(self, label: str | None = None) -> Counter[str]:
        """Requests per operation, of one caller or of all."""
        return Counter(r.operation for r in self.records(label))

    def labels(self) -> set[str]:
        return {r.label for r in self.records()}

    def reset(self) -> None:
        with self._guard:
            self._records.clear()

    def record(self, entry: Recorded) -> None:
        with self._guard:
            self._records.append(entry)

    def forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any, bytes]:
        """Send one request upstream; its status, headers and body."""
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body, headers=sent)
            reply = connection.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            connection.close()


def _split(path: str) -> tuple[str, str]:
    """``(label, upstream path)`` of a request path."""
    if not path.startswith(_PREFIX):
        return "", path
    label, _, rest = path[len(_PREFIX) :].partition("/")
    return urllib.parse.unquote(label), "/" + rest


def _handler_for(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            label, path = _split(self.path)
            agent = self.headers.get("User-Agent") or ""
            entry = Recorded(label, _operation(self.headers, body), _item_key(body), agent)
            proxy.record(entry)
            if proxy.throttle(entry):
                status, headers, answer = 400, _THROTTLED_HEADERS, _THROTTLED
            else:
                status, headers, answer = proxy.forward(self.command, path, self.headers, body)
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP | _OWN_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

    return Handler
