"""Shell completion scripts for bash, zsh and fish, generated from the command registry and the
commands' own argparse parsers (so they cannot drift from the command line): the commands with
their help lines, each command's flags, the choices of a flag that has them, file names for a
path, and the profile names of the AWS config file for ``--profile`` (read when TAB is pressed,
by ``mdh-creds completion --profiles``)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from mdh_creds.cli.launcher import join_words, own_argv
from mdh_creds.settings.specs import CACHE_CHOICES, CLIENT_AUTH_CHOICES

SHELLS = ("bash", "zsh", "fish")
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


def commands() -> list[Command]:
    """Every command of the registry with the options its parser has, in ``--help`` order."""
    from mdh_creds.cli import commands as registry
    from mdh_creds.cli.main import COMMANDS, build_parser

    found = []
    for name in COMMANDS:
        parser = _subparser(build_parser(name), name)
        options = tuple(_option(a) for a in parser._actions if _shown(a) and a.option_strings)
        words = tuple(
            str(choice)
            for action in parser._actions
            if not action.option_strings and action.choices
            for choice in action.choices
        )
        found.append(Command(name, registry.help_line(name), options, words))
    return found


def root_options() -> tuple[Option, ...]:
    """The options ``mdh-creds`` takes before any command."""
    from mdh_creds.cli.main import build_parser

    actions = build_parser()._actions
    return tuple(_option(a) for a in actions if _shown(a) and a.option_strings)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen: argparse.ArgumentParser = sub.choices[name]
    return chosen


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


def script(shell: str) -> str:
    """The completion script for ``shell`` (one of ``SHELLS``)."""
    from mdh_creds.cli import completion_scripts

    render = {
        "bash": completion_scripts.bash,
        "zsh": completion_scripts.zsh,
        "fish": completion_scripts.fish,
    }[shell]
    return render(commands(), root_options(), profiles_command())


def words(items: tuple[str, ...] | list[str]) -> str:
    """Completion words joined by spaces, each checked to need no quoting."""
    for item in items:
        if not _WORD.match(item):
            raise ValueError(f"{item!r} cannot be a completion word")
    return " ".join(items)
