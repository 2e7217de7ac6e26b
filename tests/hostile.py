"""Hostile HTTP servers on 127.0.0.1 (standard library only), for what the emulator cannot do.

``Hostile(answer)`` runs a threaded server whose every request is answered by ``answer(handler)``:
a relay to the emulator whose answer is then rewritten (headers, encoding) or trickled a byte at a
time, bodies of hundreds of megabytes, gzip bombs. ``tls=`` serves it over TLS with a private CA
made at run time (``PrivateCa``); ``forward_proxy`` makes it an HTTP proxy. Each server counts
requests and the bytes it managed to send.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Answer = Callable[["Handler"], None]
MIB = 1 << 20


@dataclass(frozen=True)
class Relayed:
    """An answer of the emulator, as received by the relay."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.server.owner.requests += 1
        self.server.owner.arrived.set()
        self.request_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self.server.owner.answer(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True  # the client gave up: what it was meant to do

    do_GET = do_POST

    def send_raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.server.owner.sent += len(data)

    def relay(self, target: str) -> Relayed:
        """The emulator's answer to this same request (``target`` is its base URL)."""
        parts = urlsplit(target)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
            connection.request(self.command, self.path, self.request_body, headers)
            answer = connection.getresponse()
            return Relayed(answer.status, answer.getheaders(), answer.read())
        finally:
            connection.close()

    def answer_with(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Status and headers at once, the body as given (``Content-Length`` is not added)."""
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


class HostileHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: Hostile


class Hostile:
    """A server whose every request is answered by ``answer``."""

    def __init__(self, answer: Answer, *, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.requests = 0
        self.sent = 0
        self.arrived = threading.Event()
        self._server = HostileHttpServer(("127.0.0.1", 0), Handler)
        self._server.owner = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- answers --------------------------------------------------------------------------------


def rewritten(target: str, change: Callable[[Relayed], Relayed]) -> Answer:
    """Relay to ``target`` (the emulator) and answer with ``change`` of its answer."""

    def answer(handler: Handler) -> None:
        out = change(handler.relay(target))
        dropped = ("content-length", "connection")
        headers = [(k, v) for k, v in out.headers if k.lower() not in dropped]
        headers += [("Content-Length", str(len(out.body))), ("Connection", "close")]
        handler.answer_with(out.status, headers, out.body)
        handler.close_connection = True

    return answer


def with_header(name: str, value: str) -> Callable[[Relayed], Relayed]:
    def change(relayed: Relayed) -> Relayed:
        kept = [(k, v) for k, v in relayed.headers if k.lower() != name.lower()]
        return Relayed(relayed.status, [*kept, (name, value)], relayed.body)

    return change


def trickled(target: str, *, headers_too: bool = False, seconds: float = 600) -> Answer:
    """Relay to ``target`` and send the answer a byte every half second (the headers too, or
    not): every socket read gets a byte well within any timeout."""

    def answer(handler: Handler) -> None:
        relayed = handler.relay(target)
        lines = [f"HTTP/1.1 {relayed.status} OK"]
        lines += [f"{k}: {v}" for k, v in relayed.headers if k.lower() != "connection"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        data = head + relayed.body
        if not headers_too:
            handler.send_raw(head)
            data = relayed.body
        _drip(handler, data, seconds)
        handler.close_connection = True

    return answer


def _drip(handler: Handler, data: bytes, seconds: float) -> None:
    ends = time.monotonic() + seconds
    for index in range(len(data)):
        if time.monotonic() > ends:
            return
        handler.send_raw(data[index : index + 1])
        time.sleep(0.5)


def huge(size: int, *, chunked: bool = False) -> Answer:
    """A 200 JSON-typed answer of ``size`` bytes, with ``Content-Length`` or chunked."""

    def answer(handler: Handler) -> None:
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(size))
        handler.answer_with(200, [("Content-Type", "application/json"), framing], b"")
        block = b" " * (64 * 1024)
        for _ in range(size // len(block)):
            if chunked:
                handler.send_raw(b"%x\r\n%s\r\n" % (len(block), block))
            else:
                handler.send_raw(block)
        if chunked:
            handler.send_raw(b"0\r\n\r\n")
        handler.close_connection = True

    return answer


@cache
def gzip_bomb(inflated: int = 256 * MIB) -> bytes:
    """``inflated`` bytes of ``{"a": "   ...`` gzipped: about a thousand times smaller."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b'{"a": "')]
    block = b" " * MIB
    parts += [packer.compress(block) for _ in range(inflated // MIB)]
    parts.append(packer.flush())
    return b"".join(parts)


def bomb() -> Answer:
    """A 200 answer whose small gzip body inflates to 256 MiB."""

    def answer(handler: Handler) -> None:
        body = gzip_bomb()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body))),
        ]
        handler.answer_with(200, headers, body)
        handler.close_connection = True

    return answer


# --- TLS with a private CA, and a forward proxy ---------------------------------------------


class PrivateCa:
    """A CA made at run time and a certificate it signed for 127.0.0.1 and localhost."""

    def __init__(self, folder: Path, name: str = "mdh-creds test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            _builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.bundle = folder / "ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._folder = folder

    def server_context(self) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        leaf = (
            _builder(subject, self.cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        cert_file, key_file = self._folder / "server.pem", self._folder / "server.key"
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def forward_proxy() -> Answer:
    """A forward HTTP proxy for ``http://`` targets (the request line holds the whole URL)."""

    def answer(handler: Handler) -> None:
        parts = urlsplit(handler.path)
        handler.path = parts.path + (f"?{parts.query}" if parts.query else "")
        relayed = handler.relay(f"http://{parts.netloc}")
        headers = [(k, v) for k, v in relayed.headers if k.lower() not in ("connection",)]
        handler.answer_with(relayed.status, [*headers, ("Connection", "close")], relayed.body)
        handler.close_connection = True

    return answer


def running(answer: Answer, **kwargs: Any) -> Iterator[Hostile]:
    """A generator for fixtures: the server, stopped afterwards."""
    server = Hostile(answer, **kwargs)
    try:
        yield server
    finally:
        server.stop()
