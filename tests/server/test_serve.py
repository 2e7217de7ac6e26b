"""``mdh-creds serve`` as a real foreground process: the variables it prints or writes, the token
file, ``--listen``, AccountId, a clean stop on SIGTERM and SIGINT, and no secret in its logs."""

from __future__ import annotations

import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import World, secrets_of

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


class Server:
    """``python -m mdh_creds serve ARGS`` with its output collected."""

    def __init__(self, world: World, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mdh_creds", "serve", *args],
            env=world.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = b""
        self.err = b""

    def read_until(self, marker: bytes, timeout: float = 30) -> None:
        """Collect stdout and stderr until ``marker`` shows up on stderr (or fail)."""
        assert self.process.stdout is not None and self.process.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ, "out")
        selector.register(self.process.stderr, selectors.EVENT_READ, "err")
        deadline = time.monotonic() + timeout
        while marker not in self.err:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                pytest.fail(f"serve did not print {marker!r}: {self.err.decode()}")
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                setattr(self, key.data, getattr(self, key.data) + chunk)
        selector.close()

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=30)
        self.out += out
        self.err += err
        return self.process.returncode

    def variables(self) -> dict[str, str]:
        lines = self.out.decode().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate(timeout=30)


def start(world: World, servers: list[Server], *args: str) -> Server:
    server = Server(world, *args)
    servers.append(server)
    server.read_until(b"serving credentials")
    return server


def fetch(url: str, token: str | None) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": token} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@posix_only
def test_prints_the_variables_serves_and_stops_on_sigterm(
    world: World, servers: list[Server]
) -> None:
    server = start(world, servers, "--debug")
    variables = server.variables()
    assert set(variables) == {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
    url, token = (
        variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
    )
    assert url.startswith("http://127.0.0.1:")
    status, body = fetch(url, token)
    assert status == 200 and "AccountId" not in body
    assert fetch(url, None)[0] == 401
    assert fetch(url, token[::-1])[0] == 403
    assert server.stop(signal.SIGTERM) == 0
    err = server.err.decode()
    assert "stopped (SIGTERM)" in err
    assert "DEBUG" in err  # the debug log did run
    for secret in secrets_of(world, token, body["SecretAccessKey"], body["Token"]):
        assert secret not in err
        assert secret not in server.out.decode().replace(token, "")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


@posix_only
def test_writes_an_env_file_and_a_token_file_and_stops_on_sigint(
    world: World, servers: list[Server], tmp_path: Path
) -> None:
    world.write_profile(aws_account_id="123456789012")
    env_file, token_file = tmp_path / "out" / "mdh.env", tmp_path / "out" / "token"
    server = start(
        world, servers, "--write-env-file", str(env_file), "--token-file", str(token_file)
    )
    assert server.out == b""
    for path in (env_file, token_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = token_file.read_text()
    assert len(token) == 43 and not token.endswith("\n")
    lines = env_file.read_text().splitlines()
    variables = dict(line.split("=", 1) for line in lines)
    assert variables["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == str(token_file)
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in variables
    assert token not in env_file.read_text()
    status, body = fetch(variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"], token)
    assert status == 200 and body["AccountId"] == "123456789012"
    assert server.stop(signal.SIGINT) == 0
    assert "stopped (SIGINT)" in server.err.decode()
    assert not env_file.exists() and not token_file.exists()


@posix_only
def test_listen_serves_on_the_given_address_with_the_token(
    world: World, servers: list[Server]
) -> None:
    server = start(world, servers, "--listen", "127.0.0.2")
    variables = server.variables()
    url = variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert url.startswith("http://127.0.0.2:")
    assert fetch(url, None)[0] == 401
    assert fetch(url, variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"])[0] == 200
    assert server.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "0.0.0.0"], "every interface"),
        (["--listen", "::"], "every interface"),
        (["--listen", "docker0"], "not an IP"),
        (["--port", "70000"], "is not a port"),
    ],
)
def test_refuses_every_interface_names_and_impossible_ports(
    world: World, args: list[str], message: str
) -> None:
    result = world.run("serve", *args)
    assert result.code == 3
    assert message in result.err and result.err.count("\n") == 1
    assert world.emulator.count("exchange") == 0


def test_a_failing_first_exchange_is_an_error_not_an_empty_server(world: World) -> None:
    world.emulator.fail("token", 401, times=5)
    result = world.run("serve", timeout=60)
    assert result.code == 4
    assert result.out == ""
    assert result.err.count("\n") == 1, result.err
