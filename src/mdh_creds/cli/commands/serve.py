"""``mdh-creds serve``: the credentials endpoint in the foreground, for containers and compose.

It prints the variables a container needs (``KEY=value`` lines, the format of
``docker run --env-file``) on stdout, or writes them to ``--write-env-file PATH``; with
``--token-file PATH`` the token goes to that file (0600, no trailing newline) and the variables
name the file instead. ``--listen ADDR`` serves on one other address (a Docker bridge address);
the token is required there too. SIGINT, SIGTERM or SIGHUP (a closed terminal) stops it cleanly
(exit 0), and the files it wrote are removed on every way out: the token in them dies with the
server. ``GET /healthz`` (no token) says whether valid credentials are at hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mdh_creds.cli.context import Context, load_settings, make_broker
from mdh_creds.errors import ConfigError
from mdh_creds.freshness import SDK_MIN_LEFT

if TYPE_CHECKING:
    from mdh_creds.server.endpoint import Endpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", metavar="ADDR", help="serve on ADDR (a Docker bridge address), not 127.0.0.1"
    )
    parser.add_argument("--port", type=int, metavar="PORT", help="port to serve on (default: any)")
    parser.add_argument(
        "--write-env-file",
        metavar="PATH",
        help="write the container variables to PATH (0600) instead of printing them",
    )
    parser.add_argument(
        "--token-file",
        metavar="PATH",
        help="write the token to PATH (0600) and name that file in the variables",
    )


def run(ctx: Context) -> int:
    from mdh_creds.server.launch import region_variables, start_endpoint
    from mdh_creds.server.serve import StopSignals, listen_address

    host = listen_address(ctx.flags.get("listen"))
    port = int(ctx.flags.get("port") or 0)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port: give 1 to 65535, or none for any")
    settings = load_settings(ctx)
    written: list[Path] = []
    with StopSignals() as stop:
        broker = make_broker(ctx, settings, min_left=SDK_MIN_LEFT)
        endpoint, keeper = start_endpoint(
            broker, account_id=settings.account_id, host=host, port=port
        )
        try:
            variables = {**publish(ctx, endpoint, written), **region_variables(settings)}
            show(ctx, variables, written)
            ctx.say(
                f"serving credentials for profile {settings.profile} at {endpoint.url} "
                "(Ctrl-C, SIGTERM or SIGHUP stops)",
                event="serving",
            )
            stop.wait()
            ctx.say(f"stopped ({stop.name})", event="stopped")
        finally:
            endpoint.stop()
            keeper.stop()
            for path in written:
                path.unlink(missing_ok=True)
    return 0


def publish(ctx: Context, endpoint: Endpoint, written: list[Path]) -> dict[str, str]:
    """The container variables; with ``--token-file`` the token is written there first."""
    from mdh_creds.server.serve import write_private

    token_file = ctx.flags.get("token_file")
    if not token_file:
        return endpoint.variables()
    path = Path(str(token_file)).expanduser().absolute()
    write_private(path, endpoint.token)  # no trailing newline: SDKs read the whole file
    written.append(path)
    return endpoint.variables(token_file=str(path))


def show(ctx: Context, variables: dict[str, str], written: list[Path]) -> None:
    """Print the variables, or write them to ``--write-env-file`` (and say where on stderr)."""
    from mdh_creds.server.serve import write_private

    text = "".join(f"{name}={value}\n" for name, value in variables.items())
    env_file = ctx.flags.get("write_env_file")
    if not env_file:
        ctx.stdout.write(text)
        ctx.stdout.flush()
        return
    path = Path(str(env_file)).expanduser().absolute()
    write_private(path, text)
    written.append(path)
    ctx.say(f"wrote the container variables to {path}", event="env file")
