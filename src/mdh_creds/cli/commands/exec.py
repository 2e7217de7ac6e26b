"""``mdh-creds exec -- CMD ARGS...``: run one command with the credentials in its environment.

The child gets the variables every AWS SDK reads (``formats.to_environment``) and
``MDH_CREDS_EXEC=<profile>``; ``AWS_PROFILE`` and ``AWS_DEFAULT_PROFILE`` are removed so it uses
the variables rather than resolving the profile again. While it runs, SIGINT, SIGTERM and SIGHUP
(where they exist) are passed on to it; its exit code becomes ours (128 + N when signal N ended
it). 127: CMD not found; 126: CMD cannot be run; 2: no CMD.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from types import FrameType, TracebackType
from typing import IO, Any

from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.cli.context import Context, load_settings, make_broker
from mdh_creds.errors import ConfigError
from mdh_creds.formats import to_environment

EXEC_VARIABLE = "MDH_CREDS_EXEC"
REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN", GUARD_VARIABLE)
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
USAGE = "mdh-creds: exec needs a command: mdh-creds exec [--profile P] -- CMD [ARGS...]\n"
HELP = "run CMD with the credentials in its environment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to run, after --"
    )


def run(ctx: Context) -> int:
    argv = command_line(getattr(ctx.args, "argv", None))
    if not argv:
        ctx.stderr.write(USAGE)
        return 2
    inside = ctx.environ.get(EXEC_VARIABLE)
    if inside:
        raise ConfigError(
            f"already inside `mdh-creds exec` for profile {inside}: run {argv[0]} directly"
        )
    settings = load_settings(ctx)
    creds = make_broker(ctx, settings).get_credentials()
    env = child_environment(ctx.environ, to_environment(creds, settings.region), settings.profile)
    ctx.stdout.flush()
    ctx.stderr.flush()
    return run_child(argv, env, ctx.stderr)


def command_line(words: Sequence[str] | None) -> list[str]:
    """The command after ``--`` (argparse keeps the separator in a REMAINDER argument)."""
    argv = list(words or [])
    return argv[1:] if argv[:1] == ["--"] else argv


def child_environment(
    environ: Mapping[str, str], variables: Mapping[str, str], profile: str
) -> dict[str, str]:
    """Our environment without the profile selectors and the guard, plus the credentials."""
    fold = str.upper if os.name == "nt" else str  # Windows variable names ignore case
    env = {k: v for k, v in environ.items() if fold(k) not in REMOVED_VARIABLES}
    env.update(variables)
    env[EXEC_VARIABLE] = profile
    return env


def resolve_command(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """On Windows, find ``npm`` as ``npm.cmd`` (PATHEXT); POSIX searches the child's PATH itself."""
    if os.name != "nt":
        return argv
    found = shutil.which(argv[0], path=env.get("PATH"))
    return [found, *argv[1:]] if found else argv


def run_child(argv: list[str], env: Mapping[str, str], stderr: IO[str]) -> int:
    """Run ``argv`` to its end, passing signals on; its exit code, shell style."""
    with SignalForwarder() as forwarder:
        try:
            child = subprocess.Popen(resolve_command(argv, env), env=dict(env))
        except FileNotFoundError:
            stderr.write(f"mdh-creds: exec: {argv[0]}: command not found\n")
            return 127
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            stderr.write(f"mdh-creds: exec: {argv[0]}: cannot run it ({reason})\n")
            return 126
        forwarder.attach(child)
        code = child.wait()
    return 128 - code if code < 0 else code


class SignalForwarder:
    """While active, the forwarded signals go to the attached child instead of this process.

    Signals that arrive before a child is attached are delivered once it is. Handlers are only
    installed in the main thread (Python allows no other), and a signal this process ignores
    stays ignored. The previous handlers come back on exit.
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen[Any] | None = None
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalForwarder:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in FORWARDED_SIGNALS:
            try:
                if signal.getsignal(signum) != signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
            except (OSError, ValueError):
                continue
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()

    def attach(self, child: subprocess.Popen[Any]) -> None:
        self._child = child
        pending, self._pending = self._pending, []
        for signum in pending:
            self._send(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._child is None:
            self._pending.append(signum)
        else:
            self._send(signum)

    def _send(self, signum: int) -> None:
        assert self._child is not None
        # OSError: already gone; ValueError: a signal Windows cannot send (Ctrl-C reaches it anyway)
        with contextlib.suppress(OSError, ValueError):
            self._child.send_signal(signum)
