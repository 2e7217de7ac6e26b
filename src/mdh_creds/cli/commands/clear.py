"""``mdh-creds clear``: remove cached entries (``--all``: of every identity, which needs no
service account configured, only the cache the settings name)."""

from __future__ import annotations

import argparse

from mdh_creds.cache import CacheBackend
from mdh_creds.cli.context import Context, load_settings, make_broker

HELP = "remove cached entries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", default=None, help="remove every entry, of every identity"
    )


def run(ctx: Context) -> int:
    if ctx.flags.get("all"):
        cache = _settings_cache(ctx)
        removed = clear_cache(cache) if cache else 0
        where = cache.describe() if cache else "no cache"
    else:
        broker = make_broker(ctx)
        removed = broker.clear()
        where = broker.cache.describe() if broker.cache else "no cache"
    noun = "entry" if removed == 1 else "entries"
    ctx.stderr.write(f"mdh-creds: removed {removed} cached {noun} ({where})\n")
    return 0


def _settings_cache(ctx: Context) -> CacheBackend | None:
    """The cache the settings name, built without resolving a service account."""
    from mdh_creds.clock import utc_now
    from mdh_creds.factory import build_cache, exchange_budget

    if ctx.flags.get("no_cache"):
        return None
    settings = load_settings(ctx)
    return build_cache(settings, ctx.environ, utc_now, exchange_budget(settings))


def clear_cache(cache: CacheBackend) -> int:
    """Remove every entry; the number that held something."""
    removed = 0
    for key in list(cache.list_keys()):
        if cache.load(key) is not None:
            removed += 1
        cache.delete(key)
    return removed
