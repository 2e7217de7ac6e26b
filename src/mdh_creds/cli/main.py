"""The full ``mdh-creds`` command: parse arguments, run one command, map errors to exit codes.

Exit codes: 0 ok, 1 unexpected, 2 usage, 3 configuration, 4 rejected by MDH, 5 MDH unreachable
(each error's ``exit_code``, ``errors.py``); a command run by ``exec`` passes its own through, and
130 means interrupted. An error is one line on stderr; a traceback only with ``--debug``, and
never a secret.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import NoReturn, TextIO

from mdh_creds import __version__
from mdh_creds.cli import commands, logs
from mdh_creds.cli.context import Context
from mdh_creds.errors import MdhCredsError
from mdh_creds.settings.specs import SPECS

COMMANDS = tuple(commands.MODULES)
_log = logging.getLogger("mdh_creds")


class UsageError(Exception):
    """A bad command line (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _common_options() -> _Parser:
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--profile", help="AWS config profile holding the mdh_* settings")
    common.add_argument("--env-file", help="read settings from this .env file")
    common.add_argument("--debug", action="store_true", help="redacted debug log on stderr")
    common.add_argument(
        "--log-format", choices=logs.FORMATS, help="log lines as text or JSON (MDH_LOG_FORMAT)"
    )
    common.add_argument("--no-cache", action="store_true", help="neither read nor write a cache")
    common.add_argument("--force-refresh", action="store_true", help="ignore cached entries")
    for spec in SPECS:
        if spec.in_profile:
            common.add_argument(
                spec.flag,
                dest=spec.name,
                metavar=spec.name.upper(),
                help=f"overrides {spec.key} / {spec.env[0]}",
            )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="mdh-creds",
        parents=[common],
        description="Short-lived AWS credentials from a MyDataHelps service account.",
    )
    parser.add_argument("--version", action="version", version=f"mdh-creds {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMANDS:
        module = commands.load(name)
        command = sub.add_parser(name, parents=[common], help=module.HELP, description=module.HELP)
        module.add_arguments(command)
    return parser


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """``mdh-creds [flags]`` means ``mdh-creds process [flags]``."""
    args = list(argv)
    if any(arg in COMMANDS for arg in args) or any(
        a in ("-h", "--help", "--version") for a in args
    ):
        return args
    return ["process", *args]


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = build_parser().parse_args(_with_default_command(argv))
    except UsageError as exc:
        stderr.write(f"mdh-creds: {exc} (see mdh-creds --help)\n")
        return 2
    try:
        log_format = logs.chosen_format(getattr(args, "log_format", None), environ)
    except ValueError as exc:
        stderr.write(f"mdh-creds: {exc}\n")
        return 3
    handler = logs.setup(log_format, getattr(args, "debug", False), stderr)
    started = time.monotonic()
    code, failure = 1, None
    try:
        code, failure = _run(Context(args, environ, stdout, stderr))
        return code
    finally:
        _log_command(args.command or "process", code, started)
        logs.teardown(handler)
        if failure is not None:  # last: the one line botocore shows the user
            stderr.write(logs.error_line(log_format, failure, code))


def _log_command(command: str, code: int, started: float) -> None:
    seconds = round(time.monotonic() - started, 3)
    extra = {"event": "command", "command": command, "exit_code": code, "seconds": seconds}
    _log.info("%s exited %d after %.3f s", command, code, seconds, extra=extra)


def _run(ctx: Context) -> tuple[int, str | None]:
    """The exit code, and the error message when the command failed."""
    try:
        code: int = commands.load(ctx.args.command or "process").run(ctx)
        return code, None
    except MdhCredsError as exc:
        _log.debug("failed", exc_info=True)
        return exc.exit_code, str(exc)
    except KeyboardInterrupt:
        return 130, "interrupted"
    except Exception as exc:
        _log.debug("unexpected error", exc_info=True)
        return 1, f"unexpected error ({type(exc).__name__}); run with --debug for details"
