"""``mdh-creds completion bash|zsh|fish``: print the shell's completion script (``cli.completion``
builds it from the command line's parsers, which ``cli.main`` hands over in the context).
``--profiles`` prints the profile names of the AWS config file, one a line: the scripts run it
for ``--profile``."""

from __future__ import annotations

import argparse

from mdh_creds.cli.completion import SHELLS
from mdh_creds.cli.context import Context

EPILOG = """\
bash, in ~/.bashrc:        eval "$(mdh-creds completion bash)"
zsh, in ~/.zshrc (after compinit):
                           eval "$(mdh-creds completion zsh)"
fish, once:                mdh-creds completion fish > ~/.config/fish/completions/mdh-creds.fish"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell: bash, zsh or fish")
    parser.add_argument("--profiles", action="store_true", default=None, help=argparse.SUPPRESS)


def run(ctx: Context) -> int:
    if ctx.flags.get("profiles"):
        return _print_profiles(ctx)
    shell = getattr(ctx.args, "shell", None)
    if shell is None:
        ctx.say("completion needs a shell: mdh-creds completion bash|zsh|fish", level="error")
        return 2
    from mdh_creds.cli.completion_scripts import script

    if ctx.parser_factory is None:  # a Context made without cli.main: nothing to describe
        ctx.say("completion runs only from the mdh-creds command line", level="error")
        return 1
    ctx.stdout.write(script(shell, ctx.parser_factory))
    return 0


def _print_profiles(ctx: Context) -> int:
    from mdh_creds.errors import ConfigError
    from mdh_creds.settings.model import config_file_path
    from mdh_creds.settings.profiles import load_profiles

    try:
        names = list(load_profiles(str(config_file_path(ctx.environ))))
    except ConfigError:
        return 1  # a file botocore refuses: nothing to offer
    ctx.stdout.write("".join(f"{name}\n" for name in names if name.isprintable()))
    return 0
