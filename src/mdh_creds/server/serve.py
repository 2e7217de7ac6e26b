"""What a foreground server needs (``serve``): the address it may listen on, the 0600 files it
writes (the token, the container variables), and the stop signals it waits for. SIGINT, SIGTERM or
SIGHUP set an event instead of ending the process, so the caller can remove what it wrote.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from mdh_creds.errors import ConfigError
from mdh_creds.server.endpoint import LOOPBACK

# SIGHUP: a closed terminal or SSH session stops the server as SIGTERM does, files removed.
STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)


def listen_address(text: str | None) -> str:
    """``--listen``: one IP address (127.0.0.1 when absent); never every interface at once."""
    if not text:
        return LOOPBACK
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError as exc:
        raise ConfigError(
            f"--listen {text!r} is not an IP address: give the address to serve on, such as "
            "a Docker bridge address (172.17.0.1)"
        ) from exc
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:0.0.0.0 binds every IPv4 address
    if address.is_unspecified or (mapped is not None and mapped.is_unspecified):
        raise ConfigError(
            f"--listen {text} would serve on every interface: give one address, such as a "
            "Docker bridge address (172.17.0.1)"
        )
    return str(address)


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
    """While active, SIGINT, SIGTERM and SIGHUP set an event instead of ending the process."""

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
