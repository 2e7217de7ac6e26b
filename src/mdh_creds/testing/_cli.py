"""Command line pieces of the emulator: options, the printed profile, waiting for a signal."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType

__all__ = ["banner", "parse_args", "wait_for_signal"]


def banner(token_url: str, exchange_url: str, args: argparse.Namespace, key_file: Path) -> str:
    """What the emulator prints on start: URLs, key path and a ready-to-paste profile.

    Only the path of the private key is shown, never the key itself.
    """
    return "\n".join(
        [
            f"MDH emulator token URL:    {token_url}",
            f"MDH emulator exchange URL: {exchange_url}",
            f"Service account:           {args.account}",
            f"Private key file:          {key_file}",
            "",
            "Add this to ~/.aws/config:",
            "",
            "[profile mdh-emulator]",
            "credential_process = mdh-creds process --profile mdh-emulator",
            f"mdh_service_account = {args.account}",
            f"mdh_private_key_file = {key_file}",
            f"mdh_project_code = {args.project_code}",
            f"mdh_token_url = {token_url}",
            f"mdh_exchange_url = {exchange_url}",
            "region = us-east-1",
            "",
            "Serving until interrupted (Ctrl-C).",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The emulator command line options."""
    parser = argparse.ArgumentParser(
        prog="python -m mdh_creds.testing.emulator",
        description="Serve an emulated MyDataHelps token and exchange API on this machine.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 picks a free one)")
    parser.add_argument("--account", default="MyDataHelps.DEMO.app", help="service account")
    parser.add_argument("--project-code", default="RK.DEMO.Project", help="allowed project")
    parser.add_argument("--key-out", type=Path, help="where to write the private key (0600)")
    parser.add_argument("--credential-lifetime", type=int, default=3600, help="seconds")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds")
    return parser.parse_args(argv)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (handlers installed only in the main thread)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        stop.wait()
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
