"""``mdh-creds clear``: remove cached entries (with ``--all``, every identity's, and the temporary
files killed writers left in the cache folder)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mdh_creds.cli.context import Context, load_settings, make_broker

if TYPE_CHECKING:
    from mdh_creds.settings.model import Settings

HELP = "remove cached entries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all",
        action="store_true",
        default=None,
        help="remove every entry, of every identity, and leftover temporary files",
    )


def run(ctx: Context) -> int:
    settings = load_settings(ctx)
    broker = make_broker(ctx, settings)
    removed = broker.clear_all() if ctx.flags.get("all") else broker.clear()
    where = broker.cache.describe() if broker.cache else "no cache"
    noun = "entry" if removed == 1 else "entries"
    swept = ""
    if ctx.flags.get("all"):
        count = sweep_folder(ctx, settings)
        swept = f"; {count} leftover temporary file{'' if count == 1 else 's'}" if count else ""
    ctx.stderr.write(f"mdh-creds: removed {removed} cached {noun} ({where}){swept}\n")
    return 0


def sweep_folder(ctx: Context, settings: Settings) -> int:
    """Remove every temporary file of ours in the cache folder, when the folder is ours."""
    from mdh_creds.cache.folder import folder_problem, sweep_temporary
    from mdh_creds.factory import cache_folder

    folder = cache_folder(settings, ctx.environ)
    if not folder.is_dir() or folder_problem(folder) is not None:
        return 0
    return sweep_temporary(folder, older_than=0.0)
