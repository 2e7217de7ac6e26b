"""Local servers for the benchmark, all on 127.0.0.1: a moto server and a private Secret Service.

The same recipe as the test suite: moto_server on a free port, and a session D-Bus plus an
unlocked gnome-keyring-daemon in a private runtime folder. Every process started here is stopped
by its own pid through the ``ExitStack`` handed in.
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
from collections.abc import Mapping
from pathlib import Path

SECRET_SERVICE_PASSWORD = b"mdh-creds-bench"
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
START_SECONDS = 20.0
# Like the stock session bus, minus <servicedir>: a probe of org.freedesktop.secrets made before
# our daemon owns the name must fail, not activate a second (locked) gnome-keyring-daemon.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class ServerError(RuntimeError):
    """A server the benchmark needs did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_ok(url: str, method: str = "GET") -> bool:
    """True when ``url`` answers 2xx."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:
            return 200 <= reply.status < 300
    except (urllib.error.URLError, OSError):
        return False


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child we started, then kill it if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        with contextlib.suppress(OSError):
            os.kill(pid, 0)
            return False
        return True
    return state in ("Z", "X")


def kill_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL: for daemons we started that are not our children."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.05)


def start_moto(folder: Path, env: Mapping[str, str], stack: contextlib.ExitStack) -> str:
    """Start moto_server; return its base URL. It is stopped when ``stack`` closes."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        raise ServerError("moto_server is not installed next to this interpreter")
    port = free_port()
    log = folder / "moto_server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop_process, process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while not http_ok(f"{url}/moto-api/"):
        # Exit status 0 is a hand-over to a re-executed daemon: keep asking the bus.
        if process.poll() not in (None, 0) or time.monotonic() > deadline:
            raise ServerError(f"moto_server did not start: {log.read_text()[-500:]}")
        time.sleep(0.1)
    return url


def private_xdg(home: Path) -> dict[str, str]:
    """XDG folders (mode 0700) under ``home``, as environment variables."""
    env = {"HOME": str(home)}
    for name, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        path = home / sub
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        env[name] = str(path)
    return env


def _bus_config(folder: Path) -> Path:
    """A session bus without service activation: nothing on it is started behind our back."""
    path = folder / "bus.conf"
    path.write_text(BUS_CONFIG, encoding="utf-8")
    return path


def _start_dbus(executable: str, env: dict[str, str]) -> tuple[str, int]:
    runtime = Path(env["XDG_RUNTIME_DIR"])
    socket_path = runtime / "bus"
    done = subprocess.run(
        [
            executable,
            f"--config-file={_bus_config(runtime)}",
            "--fork",
            "--print-address=1",
            "--print-pid=1",
            f"--address=unix:path={socket_path}",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=START_SECONDS,
        check=False,
    )
    lines = done.stdout.decode().split()
    if done.returncode != 0 or len(lines) < 2:
        raise ServerError(f"dbus-daemon did not start: {done.stderr.decode()[-300:]}")
    return lines[0], int(lines[1])


def _collection_ready(address: str) -> int | None:
    """The pid owning the Secret Service once its default collection answers unlocked."""
    import secretstorage
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    try:
        with open_dbus_connection(bus=address) as connection:
            collection = secretstorage.get_default_collection(connection)
            if collection.is_locked():
                return None
            query = message_bus.GetConnectionUnixProcessID("org.freedesktop.secrets")
            return int(connection.send_and_get_reply(query).body[0])
    except Exception:
        return None


def _start_keyring(
    executable: str, env: dict[str, str], log: Path, stack: contextlib.ExitStack
) -> None:
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [executable, "--unlock", "--components=secrets", "--foreground"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop_process, process)
    assert process.stdin is not None
    process.stdin.write(SECRET_SERVICE_PASSWORD)
    process.stdin.close()
    deadline = time.monotonic() + START_SECONDS
    while (pid := _collection_ready(env["DBUS_SESSION_BUS_ADDRESS"])) is None:
        # Exit status 0 is a hand-over to a re-executed daemon: keep asking the bus.
        if process.poll() not in (None, 0) or time.monotonic() > deadline:
            raise ServerError(f"gnome-keyring-daemon did not answer: {log.read_text()[-300:]}")
        time.sleep(0.1)
    if pid != process.pid:
        stack.callback(kill_pid, pid)


def start_secret_service(
    home: Path, env: Mapping[str, str], stack: contextlib.ExitStack
) -> tuple[dict[str, str] | None, str | None]:
    """``(environment reaching it, None)``, or ``(None, reason)`` when it cannot run here."""
    dbus = shutil.which("dbus-daemon")
    daemon = shutil.which("gnome-keyring-daemon")
    if not dbus or not daemon:
        return None, f"{'dbus-daemon' if not dbus else 'gnome-keyring-daemon'} not installed"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return None, "SecretStorage is not installed (test extra)"
    full = {**env, **private_xdg(home)}
    try:
        address, dbus_pid = _start_dbus(dbus, full)
        stack.callback(kill_pid, dbus_pid)
        full["DBUS_SESSION_BUS_ADDRESS"] = address
        _start_keyring(daemon, full, home / "gnome-keyring.log", stack)
    except (ServerError, OSError, subprocess.SubprocessError) as exc:
        return None, str(exc).splitlines()[0]
    reach = {
        "DBUS_SESSION_BUS_ADDRESS": address,
        "XDG_RUNTIME_DIR": full["XDG_RUNTIME_DIR"],
        "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
    }
    return reach, None
