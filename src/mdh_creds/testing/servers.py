"""Real servers on 127.0.0.1 for tests, demos and benchmarks: moto and a private Secret Service.

moto runs as ``moto_server`` on a free port. The Secret Service is an unlocked
``gnome-keyring-daemon`` on a private session D-Bus whose configuration has no service
activation, so nothing asked of the bus before the daemon owns its name can start a second,
locked daemon behind our back. Every process started here is stopped, by pid, when the
``ExitStack`` handed in closes.
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
from typing import Any

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
SECRET_SERVICE_PASSWORD = b"mdh-creds-testing"
START_SECONDS = 20.0
MOTO_ATTEMPTS = 3
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
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
    """A server did not start; the message says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_ok(url: str, method: str = "GET") -> bool:
    """True when ``url`` answers 2xx."""
    request = urllib.request.Request(url, method=method)  # noqa: S310 - our own loopback URL
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:  # noqa: S310
            return 200 <= int(reply.status) < 300
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
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        return False
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


def start_moto(
    folder: Path, stack: contextlib.ExitStack, env: Mapping[str, str] | None = None
) -> str:
    """Start ``moto_server`` (installed beside this interpreter); return its base URL.

    The port is free when chosen but another process (a test running beside this one) may take
    it before moto binds it: a moto that exits before it answers is started again on another
    port."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        raise ServerError("moto_server is not installed beside this interpreter (moto[server])")
    deadline = time.monotonic() + START_SECONDS
    for attempt in range(1, MOTO_ATTEMPTS + 1):
        port, log = free_port(), folder / f"moto_server-{attempt}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [str(executable), "-H", "127.0.0.1", "-p", str(port)],
                env=dict(os.environ if env is None else env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(stop_process, process)
        url = f"http://127.0.0.1:{port}"
        while process.poll() is None and time.monotonic() < deadline:
            if http_ok(f"{url}/moto-api/"):
                return url
            time.sleep(0.05)
        if process.poll() is None:
            break  # running, but not answering in time
    raise ServerError(f"moto_server did not start: {log.read_text()[-500:]}")


def secret_service_missing() -> str | None:
    """Why a Secret Service cannot run here, or ``None`` when it can."""
    for program in ("dbus-daemon", "gnome-keyring-daemon"):
        if not shutil.which(program):
            return f"{program} is not installed (Debian: gnome-keyring dbus dbus-x11)"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "SecretStorage is not installed (the test extra)"
    return None


def private_xdg(home: Path) -> dict[str, str]:
    """``HOME`` and XDG folders (mode 0700) under ``home``, as environment variables."""
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


def _start_dbus(executable: str, env: dict[str, str]) -> tuple[str, int]:
    runtime = Path(env["XDG_RUNTIME_DIR"])
    config = runtime / "bus.conf"
    config.write_text(_BUS_CONFIG, encoding="utf-8")
    done = subprocess.run(
        [
            executable,
            f"--config-file={config}",
            "--fork",
            "--print-address=1",
            "--print-pid=1",
            f"--address=unix:path={runtime / 'bus'}",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=START_SECONDS,
        check=False,
    )
    words = done.stdout.decode().split()
    if done.returncode != 0 or len(words) < 2:
        raise ServerError(f"dbus-daemon did not start: {done.stderr.decode()[-300:]}")
    return words[0], int(words[1])


def _collection_ready(address: str) -> int | None:
    """The pid owning the Secret Service once its default collection answers unlocked."""
    import secretstorage
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    name = "org.freedesktop.secrets"
    try:
        with open_dbus_connection(bus=address) as connection:
            if not connection.send_and_get_reply(message_bus.NameHasOwner(name)).body[0]:
                return None
            if secretstorage.get_default_collection(connection).is_locked():
                return None
            reply = connection.send_and_get_reply(message_bus.GetConnectionUnixProcessID(name))
            return int(reply.body[0])
    except Exception:  # not ready yet, whatever the reason: ask again
        return None


def _start_keyring(executable: str, env: dict[str, str], stack: contextlib.ExitStack) -> None:
    log = Path(env["HOME"]) / "gnome-keyring.log"
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
    home: Path, stack: contextlib.ExitStack, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A private, unlocked Secret Service; the environment that reaches it (``HOME``, XDG
    folders, ``DBUS_SESSION_BUS_ADDRESS``, ``PYTHON_KEYRING_BACKEND``)."""
    missing = secret_service_missing()
    if missing:
        raise ServerError(missing)
    full = {**(os.environ if env is None else env), **private_xdg(home)}
    address, dbus_pid = _start_dbus(str(shutil.which("dbus-daemon")), full)
    stack.callback(kill_pid, dbus_pid)
    full["DBUS_SESSION_BUS_ADDRESS"] = address
    _start_keyring(str(shutil.which("gnome-keyring-daemon")), full, stack)
    reach = {name: full[name] for name in private_xdg(home)}
    return {
        **reach,
        "DBUS_SESSION_BUS_ADDRESS": address,
        "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
    }


def unlock_default_collection(collection: Any) -> None:
    """Unlock a collection of the Secret Service started here without a prompt (gnome-keyring's
    internal interface, with the password it was started with): tests lock it to see how a
    locked keyring is handled, then unlock it again."""
    from secretstorage.util import DBusAddressWrapper, format_secret, open_session

    connection = collection.connection
    secret = format_secret(open_session(connection), SECRET_SERVICE_PASSWORD, "text/plain")
    internal = DBusAddressWrapper(
        "/org/freedesktop/secrets",
        "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
        connection,
    )
    internal.call("UnlockWithMasterPassword", "o(oayays)", collection.collection_path, secret)
