"""The endpoint of a real ``mdh-creds serve`` against many clients and a hostile neighbour: 64 SDK
clients at once, hundreds of idle or slow connections without the token, malformed requests,
resets and oversized headers. It keeps answering within the JavaScript SDK's one second, answers
each bad request with one JSON document, and never prints a traceback (even with ``--debug``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_serve import Server

from conftest import World

JS_SDK_TIMEOUT = 1.0  # s: @aws-sdk/credential-provider-http gives up after this
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


class Running:
    """A ``serve`` process and what it printed: the URL and the token."""

    def __init__(self, server: Server) -> None:
        self.server = server
        lines = dict(line.split("=", 1) for line in server.out.decode().splitlines() if "=" in line)
        self.url = lines["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        self.token = lines["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        parts = urlsplit(self.url)
        self.address = (parts.hostname or "", parts.port or 0)

    def get(
        self, path: str = "/", token: str | None = None, timeout: float = JS_SDK_TIMEOUT
    ) -> Any:
        """``(status, JSON body)`` from a fresh connection, as the JS SDK asks."""
        headers = {"Authorization": token} if token else {}
        request = urllib.request.Request(self.url.rstrip("/") + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def raw(self, data: bytes, *, timeout: float = 5.0) -> bytes:
        """Send ``data`` on a new connection; what comes back before the server closes it."""
        with socket.create_connection(self.address, timeout=timeout) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(data)
            chunks = []
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            return b"".join(chunks)


@pytest.fixture
def running(world: World) -> Iterator[Running]:
    server = Server(world, "--debug")
    server.read_until(b"serving credentials")
    yield Running(server)
    code = server.stop(signal.SIGTERM) if server.process.poll() is None else None
    assert b"Traceback" not in server.err, server.err.decode()
    assert code in (0, None)


def _botocore_fetch(running: Running) -> dict[str, Any]:
    from botocore.utils import ContainerMetadataFetcher

    class OneTry(ContainerMetadataFetcher):  # botocore's fetcher, held to one second, one try
        TIMEOUT_SECONDS = JS_SDK_TIMEOUT
        RETRY_ATTEMPTS = 1

    fetcher = OneTry()
    found: dict[str, Any] = fetcher.retrieve_full_uri(
        running.url, headers={"Authorization": running.token}
    )
    return found


def test_64_sdk_clients_at_once_are_answered_within_one_second(running: Running) -> None:
    """Half ask as botocore does, half as the JS SDK does (a new connection, 1 s limit), all at
    the same moment; every one is answered with the same credentials."""
    start = threading.Barrier(64)
    keys: list[str] = []
    failures: list[str] = []

    def ask(kind: int) -> None:
        start.wait()
        try:
            if kind % 2:
                keys.append(_botocore_fetch(running)["AccessKeyId"])
            else:
                status, body = running.get(token=running.token)
                assert status == 200, body
                keys.append(body["AccessKeyId"])
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert len(keys) == 64 and len(set(keys)) == 1


def test_hundreds_of_idle_and_slow_neighbours_do_not_delay_an_authorized_request(
    running: Running,
) -> None:
    """A local user with no token holds 300 connections (more than the server keeps: the oldest
    of them are closed to make room), half idle, half sending a request one line at a time."""
    neighbours = []
    try:
        for n in range(300):
            sock = socket.create_connection(running.address, timeout=5)
            if n % 2:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            neighbours.append(sock)
        for _ in range(5):
            status, body = running.get(token=running.token)
            assert status == 200, body
        assert running.get("/healthz") == (200, {"Status": "fresh"})
    finally:
        for sock in neighbours:
            sock.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"GET /\x1b[2J HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X-Pad: a\r\n" * 65 + b"\r\n", 431),
    ],
    ids=["garbage", "version", "control", "header", "repeated", "tls", "many headers"],
)
def test_a_bad_request_gets_one_json_answer_and_the_connection_closes(
    running: Running, request_bytes: bytes, status: int
) -> None:
    answer = running.raw(request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"Connection: close" in head
    assert json.loads(body)["Code"] == "BadRequest"
    assert running.get(token=running.token)[0] == 200


def test_resets_and_64_kib_headers_leave_the_server_answering(running: Running) -> None:
    huge = b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 65536 + b"\r\n\r\n"
    answer = running.raw(huge)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    for _ in range(20):  # a client that resets mid-request
        sock = socket.create_connection(running.address, timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nAuthoriz")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    status, body = running.get(token=running.token)
    assert status == 200, body


def test_the_health_route_needs_no_token_and_reveals_nothing(running: Running) -> None:
    status, body = running.get("/healthz")
    assert (status, body) == (200, {"Status": "fresh"})
    assert running.get("/healthz", token="wrong")[1] == {"Status": "fresh"}
    assert running.get("/", token="wrong")[0] == 403


@pytest.mark.parametrize("address", ["::ffff:0.0.0.0", "0.0.0.0", "::", "[::]", "0:0::0"])
def test_every_wildcard_form_is_refused(world: World, address: str) -> None:
    result = world.run("serve", "--listen", address)
    assert result.code == 3
    assert "every interface" in result.err


@posix_only
def test_sighup_stops_serve_and_removes_its_files(world: World) -> None:
    token_file = world.tmp / "run" / "token"
    env_file = world.tmp / "run" / "env"
    server = Server(world, "--token-file", str(token_file), "--write-env-file", str(env_file))
    server.read_until(b"serving credentials")
    assert token_file.exists() and env_file.exists()
    assert server.stop(signal.SIGHUP) == 0
    assert b"stopped (SIGHUP)" in server.err
    assert not token_file.exists() and not env_file.exists()


def test_serve_logs_json_lines_when_asked(world: World) -> None:
    server = Server(world, "--log-format", "json")
    server.read_until(b"serving credentials")
    assert server.stop(signal.SIGTERM) == 0
    lines = server.err.decode().splitlines()
    events = [json.loads(line)["event"] for line in lines]  # every line is one JSON object
    assert "serving" in events and "stopped" in events
