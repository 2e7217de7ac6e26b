"""Command line pieces of the emulator: options, the printed profile, waiting for a signal."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from mdh_creds.cli.launcher import join_words

__all__ = ["PROFILE", "banner", "parse_args", "wait_for_signal"]
PROFILE = "mdh-emulator"


def banner(token_url: str, exchange_url: str, args: argparse.Namespace, key_file: Path) -> str:
    """What the emulator prints on start: URLs, key path, a ready-to-paste profile (whose
    ``credential_process`` is this Python's absolute path) and how to prove the identity.

    Only the path of the private key is shown, never the key itself.
    """
    process = join_words([sys.executable, "-m", "mdh_creds", "process", "--profile", PROFILE])
    return "\n".join(
        [
            f"MDH emulator token URL:    {token_url}",
            f"MDH emulator exchange URL: {exchange_url}",
            f"Service account:           {args.account}",
            f"Private key file:          {key_file}",
            f"Credentials minted:        {_minted(args.moto)}",
            "",
            "Add this to ~/.aws/config:",
            "",
            f"[profile {PROFILE}]",
            f"credential_process = {process}",
            f"mdh_service_account = {args.account}",
            f"mdh_private_key_file = {key_file}",
            f"mdh_project_code = {args.project_code}",
            f"mdh_token_url = {token_url}",
            f"mdh_exchange_url = {exchange_url}",
            "region = us-east-1",
            "",
            *_proof(args.moto),
            "",
            "Serving until interrupted (Ctrl-C).",
        ]
    )


def _minted(moto: str | None) -> str:
    if moto:
        return f"IAM user keys on the moto server {moto} (STS there knows them)"
    return "made-up keys (pass --moto URL for keys a moto server accepts)"


def _proof(moto: str | None) -> list[str]:
    """The AWS CLI call that shows which identity the profile's credentials belong to."""
    if not moto:
        return [f"Then: mdh-creds process --profile {PROFILE}"]
    return [
        "Then prove the identity (an IAM user mdh-export-N that the emulator created in moto):",
        "",
        f"AWS_ENDPOINT_URL={moto} aws sts get-caller-identity --profile {PROFILE}",
    ]


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
    parser.add_argument(
        "--moto",
        metavar="URL",
        help="mint IAM user keys on the moto server at URL (moto_server -H 127.0.0.1 -p 5000), "
        "so aws sts get-caller-identity against it shows the identity",
    )
    return parser.parse_args(argv)


def wait_for_signal(ready: Callable[[], None] | None = None) -> None:
    """Block until SIGINT or SIGTERM (handlers installed only in the main thread). ``ready``
    runs once the handlers are in place, so a signal sent as soon as it reports is caught."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        if ready is not None:
            ready()
        stop.wait()
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    if ready is not None:
        ready()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
