"""``mdh-creds clear``: remove cached entries, and the profile's memo of its Secrets Manager
secret (``mdh.memo``); ``--all``: of every identity, which needs no service account configured,
only the cache the settings name, with every memo and the temporary files killed writers left in
the cache folder."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mdh_creds.cache.backends import CacheBackend
from mdh_creds.cli.context import Context, load_settings, make_broker, role_chain
from mdh_creds.errors import ConfigError

if TYPE_CHECKING:
    from mdh_creds.settings.model import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all",
        action="store_true",
        default=None,
        help="remove every entry, of every identity, and leftover temporary files",
    )


def run(ctx: Context) -> int:
    swept = ""
    if ctx.flags.get("all"):
        settings = load_settings(ctx)
        cache = _settings_cache(ctx, settings)
        removed = clear_cache(cache) if cache else 0
        where = cache.describe() if cache else "no cache"
        count, memos = sweep_folder(ctx, settings)
        swept = f"; {count} leftover temporary file{'' if count == 1 else 's'}" if count else ""
        swept += f"; {memos} secret memo{'' if memos == 1 else 's'}" if memos else ""
    else:
        settings = _mdh_settings(ctx)
        broker = make_broker(ctx, settings)
        removed = broker.clear()
        where = broker.cache.describe() if broker.cache else "no cache"
        swept = "; 1 secret memo" if _remove_memo(ctx, settings) else ""
    noun = "entry" if removed == 1 else "entries"
    ctx.say(f"removed {removed} cached {noun} ({where}){swept}", event="clear")
    return 0


def _mdh_settings(ctx: Context) -> Settings:
    """The settings of an mdh profile; for any other profile, what to do instead of setting one
    up (nothing of it can be cached)."""
    settings = load_settings(ctx)
    if not settings.is_mdh_profile and role_chain(ctx, settings) is None:  # a role: its entry
        raise ConfigError(
            f"profile {settings.profile} has no mdh settings, so nothing of it is cached: name "
            "the mdh profile (mdh-creds clear --profile NAME), or remove every entry "
            "(mdh-creds clear --all)"
        )
    return settings


def _settings_cache(ctx: Context, settings: Settings) -> CacheBackend | None:
    """The cache the settings name, built without resolving a service account."""
    from mdh_creds.clock import utc_now
    from mdh_creds.factory import build_cache, exchange_budget

    if ctx.flags.get("no_cache"):
        return None
    return build_cache(settings, ctx.environ, utc_now, exchange_budget(settings))


def clear_cache(cache: CacheBackend) -> int:
    """Remove every entry; the number that held something."""
    removed = 0
    for key in list(cache.list_keys()):
        if cache.load(key) is not None:
            removed += 1
        cache.delete(key)
    return removed


def _remove_memo(ctx: Context, settings: Settings) -> bool:
    """Remove the memo of the secret the profile (a role: its chain's root) reads its account
    from; whether there was one."""
    from mdh_creds.mdh.memo import remove_memo, settings_memo

    chained = role_chain(ctx, settings)
    path = settings_memo(chained[1] if chained else settings, ctx.environ)
    return path is not None and remove_memo(path)


def sweep_folder(ctx: Context, settings: Settings) -> tuple[int, int]:
    """Remove every temporary file and every secret memo of ours in the cache folder, when the
    folder is ours: how many of each."""
    from mdh_creds.cache.folder import folder_problem, sweep_temporary
    from mdh_creds.factory import cache_folder
    from mdh_creds.mdh.memo import remove_memos

    folder = cache_folder(settings, ctx.environ)
    if not folder.is_dir() or folder_problem(folder) is not None:
        return 0, 0
    return sweep_temporary(folder, older_than=0.0), remove_memos(str(folder))
