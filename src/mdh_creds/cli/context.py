"""The world a command runs in (``Context``) and what every command builds from it: the settings
and the broker. Below the commands: no command module imports another, nor the registry."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from mdh_creds.broker import CredentialBroker
    from mdh_creds.cache.backends import CacheBackend
    from mdh_creds.roles.chain import Chain
    from mdh_creds.settings.model import Settings


@dataclass
class Context:
    """The world a command runs in (so tests and embedders can pass their own). The environment
    stays out of ``repr``: it may hold a private key or credentials."""

    args: argparse.Namespace = field(repr=False)
    environ: Mapping[str, str] = field(repr=False)
    stdout: TextIO
    stderr: TextIO
    log_format: str = "text"
    # Set by ``exec`` when its child died of a signal: the console script then dies of it too.
    child_signal: int | None = None
    # The command line's parser, knowing the options of the command named (``cli.main``'s
    # ``build_parser``), for a command that describes the others (``completion``).
    parser_factory: Callable[[str | None], argparse.ArgumentParser] | None = field(
        default=None, repr=False
    )

    @property
    def flags(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.args).items() if v is not None}

    def say(self, message: str, *, level: str = "info", event: str = "log") -> None:
        """One line for the user on stderr, in the chosen log format (text: ``mdh-creds:
        message``, ``mdh-creds: warning: message``; json: one redacted object), flushed."""
        from mdh_creds.cli.logline import json_line
        from mdh_creds.redact import printable, redact

        shown = printable(redact(message))
        if self.log_format == "json":
            self.stderr.write(redact(json_line(level.upper(), event, shown)) + "\n")
        else:
            prefix = "warning: " if level == "warning" else ""
            self.stderr.write(f"mdh-creds: {prefix}{shown}\n")
        self.stderr.flush()


def load_settings(ctx: Context, *, warn_unknown: bool = True) -> Settings:
    from mdh_creds.settings.model import parse_settings

    return parse_settings(ctx.environ, ctx.flags, warn_unknown=warn_unknown)


def make_broker(
    ctx: Context,
    settings: Settings | None = None,
    cache: CacheBackend | Literal["settings"] | None = "settings",
    *,
    min_left: float = 0.0,
    ask: bool = False,
) -> CredentialBroker:
    """The broker for the command's settings, honouring ``--no-cache`` and ``--force-refresh``
    (``cache``: a backend already built, instead of the one the settings name; ``min_left`` as
    ``factory.build_broker``; ``ask``: a key's passphrase may be asked for on the terminal)."""
    from mdh_creds.factory import build_broker, build_chain_broker

    settings = settings or load_settings(ctx)
    no_cache = bool(ctx.flags.get("no_cache"))
    chained = role_chain(ctx, settings)
    if chained is not None:  # a role on an mdh profile: the root's cache, not ``cache``
        return build_chain_broker(
            *chained,
            environ=ctx.environ,
            cache=None if no_cache else "settings",
            force_refresh=bool(ctx.flags.get("force_refresh")),
            min_left=min_left,
        )
    return build_broker(
        settings,
        environ=ctx.environ,
        cache=None if no_cache else cache,
        force_refresh=bool(ctx.flags.get("force_refresh")),
        min_left=min_left,
        prompt=terminal_prompt() if ask else None,
    )


def role_chain(ctx: Context, settings: Settings) -> tuple[Chain, Settings] | None:
    """The chain and root settings when the profile is a role chained on an mdh profile;
    ``ConfigError`` when it is a role profile mdh-creds cannot serve."""
    from mdh_creds.roles.resolve import settings_chain

    return settings_chain(settings, ctx.environ, ctx.flags)


def terminal_prompt() -> Callable[[str], str] | None:
    """``getpass`` on the controlling terminal, or ``None`` where there is none (``getpass``
    would then read stdin with echo: never that)."""
    import getpass
    import os
    import sys

    if os.name == "nt":
        return getpass.getpass if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    os.close(fd)
    return getpass.getpass


def describe_cache(settings: Settings, cache: CacheBackend | None, folder: Path) -> dict[str, Any]:
    """The cache in use, for ``status`` (no secret)."""
    return {
        "setting": settings.cache,
        "backend": cache.name if cache else "none",
        "where": cache.describe() if cache else "nothing is cached",
        "folder": str(folder),
    }
