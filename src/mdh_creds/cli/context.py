"""The world a command runs in (``Context``) and what every command builds from it: the settings
and the broker. Below the commands: no command module imports another, nor the registry."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from mdh_creds.broker import CredentialBroker
    from mdh_creds.settings.model import Settings


@dataclass
class Context:
    """The world a command runs in (so tests and embedders can pass their own). The environment
    stays out of ``repr``: it may hold a private key or credentials."""

    args: argparse.Namespace = field(repr=False)
    environ: Mapping[str, str] = field(repr=False)
    stdout: TextIO
    stderr: TextIO

    @property
    def flags(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.args).items() if v is not None}


def load_settings(ctx: Context) -> Settings:
    from mdh_creds.settings.model import parse_settings

    return parse_settings(ctx.environ, ctx.flags)


def make_broker(
    ctx: Context, settings: Settings | None = None, *, min_left: float = 0.0
) -> CredentialBroker:
    """The broker for the command's settings, honouring ``--no-cache`` and ``--force-refresh``;
    ``min_left`` as ``factory.build_broker``."""
    from mdh_creds.factory import build_broker

    settings = settings or load_settings(ctx)
    no_cache = bool(ctx.flags.get("no_cache"))
    return build_broker(
        settings,
        environ=ctx.environ,
        cache=None if no_cache else "settings",
        force_refresh=bool(ctx.flags.get("force_refresh")),
        min_left=min_left,
    )


def describe_cache(
    settings: Settings, broker: CredentialBroker | None, ctx: Context
) -> dict[str, Any]:
    """The cache in use, for ``status`` (no secret)."""
    from mdh_creds.factory import cache_folder

    cache = broker.cache if broker else None
    return {
        "setting": settings.cache,
        "backend": cache.name if cache else "none",
        "where": cache.describe() if cache else None,
        "folder": str(cache_folder(settings, ctx.environ)),
    }
