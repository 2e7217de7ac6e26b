"""Command line pieces of the emulator: options, the printed profile, waiting for a signal."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Protocol

from mdh_creds.cli.launcher import join_words

__all__ = ["CLIENT_PROFILE", "PROFILE", "banner", "parse_args", "serve_client", "wait_for_signal"]
PROFILE = "mdh-emulator"
CLIENT_PROFILE = "mdh-emulator-client"


class _Clients(Protocol):
    @property
    def client_token_url(self) -> str: ...

    def register_client(
        self, client_id: str, client_secret: str, *, scopes: Iterable[str] | None = None
    ) -> None: ...


def serve_client(emulator: _Clients, args: argparse.Namespace, secret_file: Path) -> str:
    """Register an API client with a fresh secret, kept in ``secret_file`` (0600, never
    printed); the banner of ``--client-secret`` mode: a ready-to-paste profile for it."""
    secret = secrets.token_urlsafe(24)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    emulator.register_client(args.client_id, secret, scopes=[args.scope])
    secret_var = f'export MDH_CLIENT_SECRET="$(cat {join_words([str(secret_file)])})"'
    return "\n".join(
        [
            f"MDH emulator client token URL: {emulator.client_token_url}",
            f"API client id:                 {args.client_id}",
            f"Client secret file:            {secret_file}",
            "",
            "Add this to ~/.aws/config:",
            "",
            f"[profile {CLIENT_PROFILE}]",
            f"mdh_client_id = {args.client_id}",
            f"mdh_token_url = {emulator.client_token_url}",
            f"mdh_scope = {args.scope}",
            "",
            "The client secret never goes in a config file: give it in the environment,",
            "",
            secret_var,
            "",
            f"Then: mdh-creds token --profile {CLIENT_PROFILE}",
            "",
            "Serving until interrupted (Ctrl-C).",
        ]
    )


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
        "--client-secret",
        action="store_true",
        help="serve an API client (client id and secret, the client-credentials grant of the "
        "older token SDK) and print a profile for it instead",
    )
    parser.add_argument("--client-id", default="mdh-emulator-client", help="the API client id")
    parser.add_argument("--scope", default="api", help="the scope the API client may ask for")
    parser.add_argument("--secret-out", type=Path, help="where to write the client secret (0600)")
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
