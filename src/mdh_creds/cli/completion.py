"""Shell completion scripts for bash, zsh and fish, generated from the command line's own argparse
parsers (the registry's commands and each one's options; so they cannot drift): the commands with
their help lines, each command's flags, the choices of a flag that has them, file names for a
path, and the profile names of the AWS config file for ``--profile`` (read when TAB is pressed,
by ``mdh-creds completion --profiles``)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mdh_creds.cli.launcher import join_words, own_argv
from mdh_creds.settings.specs import CACHE_CHOICES, CLIENT_AUTH_CHOICES

SHELLS = ("bash", "zsh", "fish")
Factory = Callable[[str | None], argparse.ArgumentParser]
_WORD = re.compile(r"^[A-Za-z0-9_.:/+-]+$")  # what a completion word may hold, unquoted
_PATH_ENDINGS = ("_file", "_dir", "ca_bundle")
# Setting flags whose values are a fixed list (their parsers check it; argparse does not).
_SETTING_CHOICES = {"cache": CACHE_CHOICES, "client_auth": CLIENT_AUTH_CHOICES}


@dataclass(frozen=True)
class Option:
    """One flag of a command."""

    longs: tuple[str, ...]
    shorts: tuple[str, ...]
    help: str
    kind: str  # "flag" (no value), "profile", "path", "choice" or "value"
    choices: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.longs + self.shorts


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    words: tuple[str, ...]  # the choices of its positional arguments (``completion bash``)


def commands(build: Factory) -> list[Command]:
    """Every command the parser lists with the options its own parser has, in ``--help``
    order (``build``: the parser that knows the options of the command it is given)."""
    sub = _subparsers(build(None))
    helps = {action.dest: str(action.help or "") for action in sub._choices_actions}
    found = []
    for name in sub.choices:
        parser = _subparsers(build(name)).choices[name]
        options = tuple(_option(a) for a in parser._actions if _shown(a) and a.option_strings)
        words = tuple(
            str(choice)
            for action in parser._actions
            if not action.option_strings and action.choices
            for choice in action.choices
        )
        found.append(Command(name, " ".join(helps.get(name, "").split()), options, words))
    return found


def root_options(build: Factory) -> tuple[Option, ...]:
    """The options ``mdh-creds`` takes before any command."""
    actions = build(None)._actions
    return tuple(_option(a) for a in actions if _shown(a) and a.option_strings)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _shown(action: argparse.Action) -> bool:
    return action.help != argparse.SUPPRESS


def _option(action: argparse.Action) -> Option:
    from mdh_creds.settings.specs import SPEC_BY_NAME

    longs = tuple(s for s in action.option_strings if s.startswith("--"))
    shorts = tuple(s for s in action.option_strings if not s.startswith("--"))
    spec = SPEC_BY_NAME.get(action.dest)
    text = " ".join(str(action.help or "").split())
    choices = tuple(str(c) for c in action.choices or _SETTING_CHOICES.get(action.dest, ()))
    if action.nargs == 0:
        kind = "flag"
    elif action.dest in {"profile", "aws_profile"}:
        kind = "profile"
    elif choices:
        kind = "choice"
    elif (spec is not None and spec.is_path) or action.dest.endswith(_PATH_ENDINGS):
        kind = "path"
    else:
        kind = "value"
    return Option(longs, shorts, text, kind, choices)


def profiles_command() -> str:
    """The command line that prints the profile names, as a shell runs it."""
    return join_words([*own_argv(), "completion", "--profiles"])


def words(items: tuple[str, ...] | list[str]) -> str:
    """Completion words joined by spaces, each checked to need no quoting."""
    for item in items:
        if not _WORD.match(item):
            raise ValueError(f"{item!r} cannot be a completion word")
    return " ".join(items)
