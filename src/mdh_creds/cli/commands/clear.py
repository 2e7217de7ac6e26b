"""``mdh-creds clear``: remove cached entries."""

from __future__ import annotations

import argparse

from mdh_creds.cli.context import Context, make_broker

HELP = "remove cached entries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", default=None, help="remove every entry, of every identity"
    )


def run(ctx: Context) -> int:
    broker = make_broker(ctx)
    removed = broker.clear_all() if ctx.flags.get("all") else broker.clear()
    where = broker.cache.describe() if broker.cache else "no cache"
    noun = "entry" if removed == 1 else "entries"
    ctx.stderr.write(f"mdh-creds: removed {removed} cached {noun} ({where})\n")
    return 0
