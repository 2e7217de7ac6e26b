"""Pytest fixtures running real servers on 127.0.0.1: a moto server and a private Secret Service.

Loaded through ``pytest_plugins = ["servers"]``. Session fixtures start each server once and stop
it (by pid) when the session ends; function fixtures reset state and patch ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

SECRET_SERVICE_PASSWORD = b"mdh-creds-test"
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
TABLE = "mdh-creds-cache"
_START_SECONDS = 15.0


class MotoServer(NamedTuple):
    url: str
    env: dict[str, str]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_ok(url: str, method: str = "GET") -> bool:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:
            return 200 <= reply.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie left to an init that never reaps counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        with contextlib.suppress(OSError):
            os.kill(pid, 0)
            return False
        return True
    return state in ("Z", "X")


def _kill_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after 3 s: for daemons that are not our children."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.05)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a moto server on 127.0.0.1, shared by the session."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        pytest.fail(f"moto_server not found next to {sys.executable}")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_SECONDS
        while not _http_ok(f"{url}/moto-api/"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server, emptied, with its endpoint and fake credentials in ``os.environ``."""
    if not _http_ok(f"{moto_server}/moto-api/reset", method="POST"):
        pytest.fail("moto_server did not reset")
    env = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return MotoServer(moto_server, env)


def dynamodb_client(url: str, **config: Any) -> Any:
    """A low-level DynamoDB client for ``url`` with the fake credentials."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config) if config else None,
    )


@pytest.fixture
def dynamodb_table(moto: MotoServer) -> tuple[Any, str]:
    """``(client, table_name)``: the cache table created in the fresh moto server."""
    from mdh_creds.cache.dynamodb import create_table

    client = dynamodb_client(moto.url)
    create_table(client, TABLE)
    return client, TABLE


def _missing(what: str) -> None:
    message = f"{what} not installed: the Secret Service tests need gnome-keyring and dbus"
    if os.environ.get("MDH_CREDS_REQUIRE_KEYRING") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _private_env(home: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        Path(env[name]).mkdir(mode=0o700, exist_ok=True)
        os.chmod(env[name], 0o700)
    return env


def _start_dbus(
    executable: str, env: dict[str, str], log: Path
) -> tuple[str, subprocess.Popen[bytes]]:
    """A session bus on a socket in the private runtime dir: ``(address, process)``.

    ``--nofork`` keeps the daemon our child, so it is stopped and reaped like any subprocess.
    """
    socket_path = Path(env["XDG_RUNTIME_DIR"]) / "bus"
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [
                executable,
                "--session",
                "--nofork",
                "--print-address=1",
                "--print-pid=1",
                f"--address=unix:path={socket_path}",
            ],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
        )
    assert process.stdout is not None
    address = process.stdout.readline().decode().strip()
    if not address.startswith("unix:"):
        _stop(process)
        pytest.fail(f"dbus-daemon did not start:\n{log.read_text()[-1000:]}")
    return address, process


def _collection_ready(address: str) -> int | None:
    """The pid owning the Secret Service once its default collection answers unlocked.

    Nothing is asked of the Secret Service before a daemon owns its name, so the bus never
    activates a second, locked daemon of its own.
    """
    import secretstorage
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    name = "org.freedesktop.secrets"
    try:
        with open_dbus_connection(bus=address) as connection:
            if not connection.send_and_get_reply(message_bus.NameHasOwner(name)).body[0]:
                return None
            collection = secretstorage.get_default_collection(connection)
            if collection.is_locked():
                return None
            query = message_bus.GetConnectionUnixProcessID(name)
            return int(connection.send_and_get_reply(query).body[0])
    except Exception:
        return None


def _start_keyring(
    executable: str, env: dict[str, str], log: Path
) -> tuple[int, subprocess.Popen[bytes]]:
    """gnome-keyring-daemon unlocked with the test password: ``(daemon pid, launched process)``.

    The launched process may hand over to a re-executed daemon, so the daemon's pid is asked of
    the bus (the owner of ``org.freedesktop.secrets``).
    """
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [executable, "--unlock", "--components=secrets", "--foreground"],
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    assert process.stdin is not None
    process.stdin.write(SECRET_SERVICE_PASSWORD)
    process.stdin.close()
    deadline = time.monotonic() + _START_SECONDS
    while (pid := _collection_ready(env["DBUS_SESSION_BUS_ADDRESS"])) is None:
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"gnome-keyring-daemon did not answer:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return pid, process


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private, unlocked Secret Service: the environment that reaches it."""
    dbus = shutil.which("dbus-daemon")
    keyring_daemon = shutil.which("gnome-keyring-daemon")
    if not dbus or not keyring_daemon:
        _missing("dbus-daemon" if not dbus else "gnome-keyring-daemon")
    assert dbus
    assert keyring_daemon
    home = tmp_path_factory.mktemp("keyring-home")
    env = _private_env(home)
    with contextlib.ExitStack() as cleanup:
        address, bus = _start_dbus(dbus, env, home / "dbus-daemon.log")
        cleanup.callback(_stop, bus)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon_pid, launched = _start_keyring(keyring_daemon, env, home / "gnome-keyring.log")
        cleanup.callback(_stop, launched)
        if daemon_pid != launched.pid:
            cleanup.callback(_kill_pid, daemon_pid)
        yield {**env, "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND}


@pytest.fixture
def keyring_env(secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Secret Service environment, patched into ``os.environ`` for in-process keyring use."""
    for name, value in secret_service.items():
        monkeypatch.setenv(name, value)
    return dict(secret_service)
