"""``mdh-creds serve``: the credentials endpoint in the foreground (its body: ``server/serve``)."""

from __future__ import annotations

import argparse

from mdh_creds.cli.context import Context

HELP = "serve credentials to SDKs on a local endpoint until stopped"


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
    from mdh_creds.server.serve import cmd_serve

    return cmd_serve(ctx)
