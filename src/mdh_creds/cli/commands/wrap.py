"""``mdh-creds wrap [--name N] -- CMD ...``: any other credential_process, served through our cache.

It is itself a credential_process: ``credential_process = mdh-creds wrap --name corp -- CMD``.
CMD runs only when the cache holds no fresh entry, once for every process waiting on it; the
entry is sealed with a key of its own (``wrapped.keys``) and refreshed by the rule ``process``
follows. Its settings come from flags and ``MDH_*`` variables only, never from a profile:
``--cache``, ``--cache-dir``, ``--dynamodb-table``, ``--refresh-window``, ``--aws-profile``, and
``--kms-key-id`` for a fleet's sealing key.
``--status`` shows the entry, the cache and where the sealing key is kept; ``--clear`` removes
the entry.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mdh_creds.cli.context import Context
from mdh_creds.errors import ConfigError
from mdh_creds.settings import values

if TYPE_CHECKING:
    from mdh_creds.broker import CredentialBroker, Exchange
    from mdh_creds.cache.backends import CacheBackend
    from mdh_creds.crypto import Sealer
    from mdh_creds.settings.model import Settings

USAGE = "mdh-creds: wrap needs a command after --: mdh-creds wrap [--name N] -- CMD ...\n"
DEFAULT_COMMAND_TIMEOUT = 60.0
EPILOG = """\
example, in the AWS config file:
  [profile corp]
  credential_process = mdh-creds wrap --name corp -- corp-login --role dev

CMD must print credential_process JSON with an Expiration (or give --default-lifetime)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default=None, help="the entry's name (default: a digest of CMD)")
    parser.add_argument(
        "--command-timeout",
        type=_checked(values.bounded_float(0.1, 3600.0)),
        default=None,
        metavar="SECONDS",
        help=f"how long CMD may take (default {DEFAULT_COMMAND_TIMEOUT:g})",
    )
    parser.add_argument(
        "--default-lifetime",
        type=_checked(values.bounded_int(60, 43_200)),
        default=None,
        metavar="SECONDS",
        help="how long to keep credentials CMD prints with no Expiration (default: refuse them)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--status",
        action="store_true",
        default=None,
        help="show the entry, the cache and where the sealing key is kept; run nothing",
    )
    shown.add_argument(
        "--clear",
        action="store_true",
        default=None,
        help="remove this wrap's entry from the cache; run nothing",
    )
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to wrap"
    )


def _checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` with its message in argparse's usage error (``... SECONDS: not a number``)."""

    def check(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


def run(ctx: Context) -> int:
    argv = _command_line(getattr(ctx.args, "argv", None))
    if not argv:
        ctx.stderr.write(USAGE)
        return 2
    from mdh_creds.wrapped.source import chained, refuse_loop

    refuse_loop(ctx.environ, argv)
    settings = _settings(ctx)
    given = dict(ctx.environ)  # CMD's environment: as given, before ``chained`` adds to ours
    with chained(argv):  # the cache's own AWS clients are built and used in here
        broker, where = _broker(ctx, settings, argv, given)
        if ctx.flags.get("status"):
            return _status(ctx, broker, where)
        if ctx.flags.get("clear"):
            return _clear(ctx, broker)
        creds = broker.get_credentials()
    from mdh_creds.clock import to_timestamp
    from mdh_creds.wrapped.answer import document

    expiration = to_timestamp(creds.local_expires_at)
    ctx.stdout.write(
        document(creds.access_key_id, creds.secret_access_key, creds.session_token, expiration)
        + "\n"
    )
    ctx.stdout.flush()
    return 0


def _command_line(words: Any) -> list[str]:
    argv = list(words or [])
    return argv[1:] if argv[:1] == ["--"] else argv


def _settings(ctx: Context) -> Settings:
    """Flags and environment only: a wrap reads no profile (the one that runs it is not ours)."""
    from mdh_creds.settings.model import parse_settings

    return parse_settings(ctx.environ, ctx.flags, profile_keys={}, warn_unknown=False)


def _broker(
    ctx: Context, settings: Settings, argv: list[str], given: dict[str, str]
) -> tuple[CredentialBroker, str]:
    """The broker for the wrapped command (run with the environment ``given``), and where its
    sealing key is kept."""
    from mdh_creds.broker import CredentialBroker, Policy
    from mdh_creds.freshness import SDK_MIN_LEFT
    from mdh_creds.wrapped.identity import wrap_identity
    from mdh_creds.wrapped.source import CommandSource

    timeout = ctx.flags.get("command_timeout", DEFAULT_COMMAND_TIMEOUT)
    source = CommandSource(
        argv, given, timeout=timeout, default_lifetime=ctx.flags.get("default_lifetime")
    )
    cache, sealer, where = _sealed_cache(ctx, settings, timeout)
    policy = Policy(
        refresh_window=timedelta(seconds=settings.refresh_window),
        lock_timeout=2 * timeout + 10,
        force_refresh=bool(ctx.flags.get("force_refresh")),
        min_left=timedelta(seconds=SDK_MIN_LEFT),
    )
    broker = CredentialBroker(
        identity=wrap_identity(argv, ctx.flags.get("name")),
        exchange=_no_exchange,
        cache=cache,
        sealer=sealer,
        policy=policy,
        source=source,
    )
    return broker, where


def _sealed_cache(
    ctx: Context, settings: Settings, timeout: float
) -> tuple[CacheBackend | None, Sealer | None, str]:
    """The cache, the sealer of its wrapped entries, and where the key is kept. ``--status``
    only looks for the key, ``--clear`` needs none; a run makes it when there is none."""
    from mdh_creds.clock import utc_now
    from mdh_creds.crypto import Sealer
    from mdh_creds.errors import CacheUnavailable
    from mdh_creds.factory import build_cache
    from mdh_creds.wrapped.keys import find_sealing_key, load_sealing_key

    if ctx.flags.get("no_cache"):
        return None, None, "none (nothing is cached)"
    cache = build_cache(settings, ctx.environ, utc_now, timeout + 5)
    if cache is None or ctx.flags.get("clear"):  # ``--clear`` removes by name: needs no key
        return cache, None, "" if cache else "none (nothing is cached)"
    folder = str(settings.cache_folder(ctx.environ))
    if settings.kms_key_id:
        return cache, *_kms_sealer(ctx, settings)
    try:
        if ctx.flags.get("status"):
            found = find_sealing_key(folder, ctx.environ)
            if found is None:
                return cache, None, "none yet (the first run makes one)"
        else:
            found = load_sealing_key(folder, ctx.environ)
    except CacheUnavailable as exc:
        ctx.say(f"no sealing key, continuing without a cache: {exc}", level="warning")
        return None, None, "none (nothing is cached)"
    return cache, Sealer.from_entry_key(found[0]), found[1]


def _kms_sealer(ctx: Context, settings: Settings) -> tuple[Sealer, str]:
    """A fleet's key: KMS's signature over a fixed message (``mdh_kms_key_id``), the same on
    every machine that may call ``kms:Sign`` with the key, kept 0600 outside the cache folder."""
    from mdh_creds.cache.material import material_path
    from mdh_creds.mdh.kms_key import kms_account_key

    key = kms_account_key(settings, ctx.environ)
    where = material_path(ctx.environ, key.kms.key_id)
    return key.sealer(), f"KMS key {key.kms.key_id} (its sealing material kept in {where})"


def _no_exchange() -> Exchange:
    raise ConfigError("wrap serves AWS credentials only: it has no MDH token")


def _status(ctx: Context, broker: CredentialBroker, where: str) -> int:
    """The cache, the sealing key and this wrap's entry, one per line; exit 0 when valid
    credentials are at hand."""
    from mdh_creds.clock import to_timestamp

    cache = broker.cache
    shown = f"{cache.name} ({cache.describe()})" if cache else "none (nothing is cached)"
    lines = [
        f"cache: {shown}",
        f"sealing key: {where}",
    ]
    own = [e for e in broker.entries() if e.name == broker.cred_key.name]
    for entry in own:
        expiry = to_timestamp(entry.expires_at) if entry.expires_at else "?"
        lines.append(f"entry {entry.name} ({entry.tier}): {entry.state}, expires {expiry}")
    if not own:
        lines.append(f"entry {broker.cred_key.name}: none")
    ctx.stdout.write("\n".join(lines) + "\n")
    return 0 if any(e.state in ("fresh", "stale") for e in own) else 1


def _clear(ctx: Context, broker: CredentialBroker) -> int:
    """Remove this wrap's entry (in every tier of the cache), as ``clear`` says it."""
    removed = broker.clear()
    where = broker.cache.describe() if broker.cache else "no cache"
    noun = "entry" if removed == 1 else "entries"
    ctx.say(f"removed {removed} cached {noun} ({where})", event="clear")
    return 0
