"""The full ``mdh-creds`` command: parse arguments, run one command, map errors to exit codes.

Exit codes: 0 ok, 1 unexpected, 2 usage, 3 configuration, 4 rejected by MDH, 5 MDH unreachable
(each error's ``exit_code``, ``errors.py``); a command run by ``exec`` passes its own through, and
130 means interrupted. An error is one line on stderr (control characters escaped); a traceback
only with ``--debug``, and never a secret. A closed stdout is such an error too (exit 1).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TextIO

from mdh_creds import __version__
from mdh_creds.cli import commands, logs
from mdh_creds.cli.context import Context
from mdh_creds.errors import MdhCredsError
from mdh_creds.settings.specs import CACHE_CHOICES, SPEC_BY_NAME, SPECS

COMMANDS = tuple(commands.COMMANDS)
STDOUT_CLOSED = "stdout is closed: nothing was printed (run mdh-creds with its output open)"
_log = logging.getLogger("mdh_creds")


class UsageError(Exception):
    """A bad command line (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


START_HERE = """\
start here: write [profile mdh] in the AWS config file, then let the AWS CLI run mdh-creds
  mdh-creds configure --profile mdh --service-account NAME \\
      --private-key-file KEY.pem --project-code CODE
  aws sts get-caller-identity --profile mdh
  mdh-creds status --profile mdh     (every setting, where it came from, what to fix)

mdh-creds COMMAND --help lists a command's own options, then the setting flags."""
_CHOICES = {"cache": CACHE_CHOICES}


def _add_common(parser: argparse.ArgumentParser, *, show_settings: bool) -> None:
    """The options every command takes, after the command's own: general ones, then one flag
    per setting (hidden from the top-level help, which stays short)."""
    common = parser.add_argument_group("common options")
    hidden = argparse.SUPPRESS
    common.add_argument("--profile", default=hidden, help="AWS config profile of the settings")
    common.add_argument("--env-file", default=hidden, help="read settings from this .env file")
    for flag, text in (
        ("--debug", "redacted debug log on stderr"),
        ("--no-cache", "neither read nor write a cache"),
        ("--force-refresh", "ignore cached entries"),
    ):
        common.add_argument(flag, action="store_true", default=hidden, help=text)
    common.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=hidden,
        help="log lines as text or JSON objects (MDH_LOG_FORMAT)",
    )
    group = (
        parser.add_argument_group(
            "setting flags", "each overrides its profile key and environment variable"
        )
        if show_settings
        else parser.add_argument_group()  # untitled: nothing shows
    )
    for spec in SPECS:
        if spec.in_profile:
            group.add_argument(
                spec.flag,
                dest=spec.name,
                default=hidden,
                metavar=_metavar(spec.name),
                help=_setting_help(spec.name) if show_settings else hidden,
            )


def _metavar(name: str) -> str:
    choices = _CHOICES.get(name)
    return "{" + ",".join(choices) + "}" if choices else name.upper()


def _setting_help(name: str) -> str:
    from mdh_creds.settings.described import DESCRIPTIONS

    spec = SPEC_BY_NAME[name]
    default = "" if spec.default is None else f"; default {spec.default}"
    what = DESCRIPTIONS.get(name)
    text = (f"{what}: " if what else "") + f"{spec.key} / {spec.env[0]}{default}"
    return text.replace("%", "%%")


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``chosen`` command's module is imported to add its options (every
    command is listed with its help line from the registry)."""
    parser = _Parser(
        prog="mdh-creds",
        usage="mdh-creds [COMMAND] [options]",
        description="Short-lived AWS credentials from a MyDataHelps service account. "
        "With no COMMAND, runs process.",
        epilog=START_HERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mdh-creds {__version__}")
    sub = parser.add_subparsers(
        dest="command", title="commands", metavar="COMMAND", parser_class=_Parser
    )
    for name in COMMANDS:
        if name == chosen:
            _add_command(sub, name)
        else:
            sub.add_parser(name, help=commands.help_line(name))
    _add_common(parser, show_settings=False)
    return parser


def _add_command(sub: Any, name: str) -> None:
    """The command's parser: its own options first (usage included), then the common ones."""
    module = commands.load(name)
    command = sub.add_parser(
        name,
        prog=f"mdh-creds {name}",
        help=commands.help_line(name),
        description=commands.help_line(name),
        epilog=getattr(module, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(command)
    own = " ".join(command.format_usage().removeprefix("usage:").split())
    command.usage = own.replace("%", "%%") + " [common options] [setting flags]"
    _add_common(command, show_settings=True)


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` with a parser that knows the options of the one command it names."""
    words = _with_default_command(argv)
    return build_parser(_command_named(words)).parse_args(words)


def _command_named(words: list[str]) -> str | None:
    """The command ``words`` name, found as argparse finds it (a flag's value that happens to be
    a command's name is not taken for one), with no command module imported. ``None`` when the
    words do not parse: the full parser then reports what is wrong."""
    parser = _Parser(add_help=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMANDS:
        sub.add_parser(name, add_help=False)
    _add_common(parser, show_settings=False)
    try:
        found, _ = parser.parse_known_args(words)
    except UsageError:
        return None
    return found.command if isinstance(found.command, str) else None


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """``mdh-creds [flags]`` means ``mdh-creds process [flags]``; a first word that is close to
    a command's name (``proces``) is a usage error that names the command."""
    args = list(argv)
    if any(arg in COMMANDS for arg in args) or any(
        a in ("-h", "--help", "--version") for a in args
    ):
        return args
    if args and not args[0].startswith("-"):
        _refuse_a_misspelt_command(args[0])
    return ["process", *args]


def _refuse_a_misspelt_command(word: str) -> None:
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.7)
    if close:
        shown = word if word.isprintable() else repr(word)
        raise UsageError(f"unknown command {shown[:40]!r}: did you mean {close[0]}?")


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    *,
    die_with_child: bool = False,
) -> int:
    """Run one command; return the exit code. With ``die_with_child`` (the console script),
    when ``exec``'s child died of a signal this process dies of the same signal at the end."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    stderr = stderr or sys.stderr or io.StringIO()  # None: Python started with fd 2 closed
    stdout = stdout or sys.stdout
    if stdout is None or stdout.closed:
        stderr.write(logs.error_line(_early_format(argv, environ), STDOUT_CLOSED, 1))
        return 1
    try:
        args = parse_arguments(argv)
    except UsageError as exc:
        stderr.write(f"mdh-creds: {exc}\n")
        return 2
    try:
        log_format = logs.chosen_format(getattr(args, "log_format", None), environ)
    except ValueError as exc:
        stderr.write(f"mdh-creds: {exc}\n")
        return 3
    handler = logs.setup(log_format, getattr(args, "debug", False), stderr)
    started = time.monotonic()
    code, failure = 1, None
    ctx = Context(args, environ, stdout, stderr, log_format, parser_factory=build_parser)
    try:
        code, failure = _run(ctx)
    finally:
        _log_command(args.command or "process", code, started)
        logs.teardown(handler)
        if failure is not None:  # last: the one line botocore shows the user
            stderr.write(logs.error_line(log_format, failure, code))
    if die_with_child and ctx.child_signal:
        from mdh_creds.cli.supervisor import die_of

        die_of(ctx.child_signal)  # returns when the signal does not end a process (PID 1)
    return code


def _early_format(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The log format before the command line is parsed (for a failure found that early)."""
    words = list(argv)
    flag = next((w.split("=", 1)[1] for w in words if w.startswith("--log-format=")), None)
    if flag is None and "--log-format" in words[:-1]:
        flag = words[words.index("--log-format") + 1]
    try:
        return logs.chosen_format(flag, environ)
    except ValueError:
        return "text"


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
    except BrokenPipeError:
        _quiet_stdout(ctx.stdout)
        return 1, STDOUT_CLOSED
    except KeyboardInterrupt:
        return 130, "interrupted"
    except Exception as exc:
        _log.debug("unexpected error", exc_info=True)
        return 1, f"unexpected error ({type(exc).__name__}); run with --debug for details"


def _quiet_stdout(stdout: TextIO) -> None:
    """Point a broken stdout at the null device: the interpreter flushes it again on exit, and
    that second failure would print its own message (Python docs, "Note on SIGPIPE")."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stdout.fileno())
        os.close(null)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass
