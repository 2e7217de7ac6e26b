"""``mdh-creds serve``: the credentials endpoint in the foreground, for containers and compose.

It prints the variables a container needs (``KEY=value`` lines, the format of
``docker run --env-file``) on stdout, or writes them to ``--write-env-file PATH``; with
``--token-file PATH`` the token goes to that file (0600, no trailing newline) and the variables
name the file instead. ``--listen ADDR`` serves on one other address (a Docker bridge address);
the token is required there too. SIGINT or SIGTERM stops it cleanly (exit 0), and the files it
wrote are removed: the token in them dies with the server.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdh_creds.errors import ConfigError
from mdh_creds.server.endpoint import LOOPBACK, Endpoint
from mdh_creds.server.launch import region_variables, start_endpoint

if TYPE_CHECKING:
    from mdh_creds.cli.context import Context

STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n))


def cmd_serve(ctx: Context) -> int:
    from mdh_creds.cli.context import load_settings

    host = listen_address(ctx.flags.get("listen"))
    port = int(ctx.flags.get("port") or 0)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port: give 1 to 65535, or none for any")
    settings = load_settings(ctx)
    written: list[Path] = []
    with StopSignals() as stop:
        endpoint, keeper = start_endpoint(ctx, settings, host=host, port=port)
        try:
            variables = {**publish(ctx, endpoint, written), **region_variables(settings)}
            show(ctx, variables, written)
            ctx.stderr.write(
                f"mdh-creds: serving credentials for profile {settings.profile} at "
                f"{endpoint.url} (Ctrl-C or SIGTERM stops)\n"
            )
            ctx.stderr.flush()
            stop.wait()
            ctx.stderr.write(f"mdh-creds: stopped ({stop.name})\n")
        finally:
            endpoint.stop()
            keeper.stop()
            for path in written:
                path.unlink(missing_ok=True)
    return 0


def listen_address(text: str | None) -> str:
    """``--listen``: one IP address (127.0.0.1 when absent); never every interface at once."""
    if not text:
        return LOOPBACK
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        raise ConfigError(
            f"--listen {text!r} is not an IP address: give the address to serve on, such as "
            "a Docker bridge address (172.17.0.1)"
        ) from None
    if address.is_unspecified:
        raise ConfigError(
            f"--listen {text} would serve on every interface: give one address, such as a "
            "Docker bridge address (172.17.0.1)"
        )
    return str(address)


def publish(ctx: Context, endpoint: Endpoint, written: list[Path]) -> dict[str, str]:
    """The container variables; with ``--token-file`` the token is written there first."""
    token_file = ctx.flags.get("token_file")
    if not token_file:
        return endpoint.variables()
    path = Path(str(token_file)).expanduser().absolute()
    write_private(path, endpoint.token)  # no trailing newline: SDKs read the whole file
    written.append(path)
    return endpoint.variables(token_file=str(path))


def show(ctx: Context, variables: dict[str, str], written: list[Path]) -> None:
    """Print the variables, or write them to ``--write-env-file`` (and say where on stderr)."""
    text = "".join(f"{name}={value}\n" for name, value in variables.items())
    env_file = ctx.flags.get("write_env_file")
    if not env_file:
        ctx.stdout.write(text)
        ctx.stdout.flush()
        return
    path = Path(str(env_file)).expanduser().absolute()
    write_private(path, text)
    written.append(path)
    ctx.stderr.write(f"mdh-creds: wrote the container variables to {path}\n")


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically by a 0600 file holding exactly ``text``."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class StopSignals:
    """While active, SIGINT and SIGTERM set an event instead of ending the process."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}
        self.name = "stopped"

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_DFL if previous is None else previous)

    def _handle(self, signum: int, frame: object) -> None:
        self.name = signal.Signals(signum).name
        self._event.set()

    def wait(self) -> None:
        while not self._event.wait(1.0):  # a timeout keeps the main thread able to take signals
            pass
