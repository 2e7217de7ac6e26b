"""``mdh-creds exec -- CMD ARGS...``: run one command with the credentials in its environment.

The child gets the variables every AWS SDK reads (``formats.to_environment``) and
``MDH_CREDS_EXEC=<profile>``; ``AWS_PROFILE`` and ``AWS_DEFAULT_PROFILE`` are removed so it uses
the variables rather than resolving the profile again. While it runs, SIGINT, SIGTERM and SIGHUP
(where they exist) are passed on to it; its exit code becomes ours (128 + N when signal N ended
it). 127: CMD not found; 126: CMD cannot be run; 2: no CMD. Static keys expire: when the child
is still running at that moment, one line on stderr says so and names ``exec --server``.

``--server``: the child gets ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` of an endpoint that lives as long as it (``server/``), the
region, and none of the variables with which an SDK would find other credentials first
(``CHILD_STRIPPED``, DESIGN 3.4). ``--profile-env``: no keys, ``AWS_PROFILE=<profile>``, so the
child's SDK runs the profile's ``credential_process`` itself whenever it needs to.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Any

from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.cli.context import Context, load_settings, make_broker
from mdh_creds.errors import ConfigError
from mdh_creds.formats import to_environment
from mdh_creds.freshness import SDK_MIN_LEFT

if TYPE_CHECKING:
    from mdh_creds.settings.model import Settings

EXEC_VARIABLE = "MDH_CREDS_EXEC"
REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN", GUARD_VARIABLE)
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
USAGE = "mdh-creds: exec needs a command: mdh-creds exec [--profile P] -- CMD [ARGS...]\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--server",
        action="store_true",
        default=None,
        help="serve credentials to CMD from a local endpoint, refreshed while it runs",
    )
    mode.add_argument(
        "--profile-env",
        action="store_true",
        default=None,
        help="give CMD no keys, only AWS_PROFILE: its SDK runs credential_process itself",
    )
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
    if ctx.flags.get("server"):
        return exec_with_server(ctx, settings, argv)
    if ctx.flags.get("profile_env"):
        return exec_with_profile(ctx, settings, argv)
    creds = make_broker(ctx, settings).get_credentials()
    env = child_environment(ctx.environ, to_environment(creds, settings.region), settings.profile)
    ctx.stdout.flush()
    ctx.stderr.flush()
    return run_child(argv, env, ctx.stderr, expires_at=creds.local_expires_at.timestamp())


def exec_with_server(ctx: Context, settings: Settings, argv: list[str]) -> int:
    """Run ``argv`` with the endpoint's variables; the endpoint stops when the child ends."""
    from mdh_creds.server.launch import CHILD_STRIPPED, region_variables, start_endpoint

    warn_default_keys(ctx, argv[0])
    broker = make_broker(ctx, settings, min_left=SDK_MIN_LEFT)
    endpoint, keeper = start_endpoint(broker, account_id=settings.account_id)
    try:
        variables = {**endpoint.variables(), **region_variables(settings)}
        removed = (*REMOVED_VARIABLES, *CHILD_STRIPPED)
        env = child_environment(ctx.environ, variables, settings.profile, removed)
        ctx.stdout.flush()
        ctx.stderr.flush()
        return run_child(argv, env, ctx.stderr)
    finally:
        endpoint.stop()
        keeper.stop()


def exec_with_profile(ctx: Context, settings: Settings, argv: list[str]) -> int:
    """Run ``argv`` with ``AWS_PROFILE`` set and no keys, the cache warmed first."""
    from mdh_creds.server.launch import CHILD_STRIPPED
    from mdh_creds.settings.profiles import load_profile

    make_broker(ctx, settings).get_credentials()  # fail here, not in the child; warm the cache
    keys = load_profile(str(settings.config_file), settings.profile) or {}
    if "credential_process" not in keys:
        ctx.stderr.write(
            f"mdh-creds: warning: profile {settings.profile} in {settings.config_file} has no "
            f"credential_process, so SDKs in {argv[0]} find no credentials through it: run "
            f"mdh-creds configure --profile {settings.profile}\n"
        )
    removed = (*REMOVED_VARIABLES, *CHILD_STRIPPED)
    env = child_environment(
        ctx.environ, {"AWS_PROFILE": settings.profile}, settings.profile, removed
    )
    ctx.stdout.flush()
    ctx.stderr.flush()
    return run_child(argv, env, ctx.stderr)


def warn_default_keys(ctx: Context, command: str) -> None:
    """Static keys in ``[default]`` of the shared credentials file outrank the endpoint."""
    from mdh_creds.settings import awsconfig

    try:
        found = awsconfig.find_shadowing_keys(ctx.environ, "default")
    except ConfigError:
        return
    if found:
        ctx.stderr.write(
            f"mdh-creds: warning: [default] in {awsconfig.credentials_file_path(ctx.environ)} "
            f"holds {', '.join(found)}: SDKs in {command} use those keys before the endpoint; "
            "remove them from that file\n"
        )


def command_line(words: Sequence[str] | None) -> list[str]:
    """The command after ``--`` (argparse keeps the separator in a REMAINDER argument)."""
    argv = list(words or [])
    return argv[1:] if argv[:1] == ["--"] else argv


def child_environment(
    environ: Mapping[str, str],
    variables: Mapping[str, str],
    profile: str,
    removed: Sequence[str] = REMOVED_VARIABLES,
) -> dict[str, str]:
    """Our environment without ``removed`` (the profile selectors and the guard), plus
    ``variables``."""
    fold = str.upper if os.name == "nt" else str  # Windows variable names ignore case
    env = {k: v for k, v in environ.items() if fold(k) not in removed}
    env.update(variables)
    env[EXEC_VARIABLE] = profile
    return env


def resolve_command(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """On Windows, find ``npm`` as ``npm.cmd`` (PATHEXT); POSIX searches the child's PATH itself."""
    if os.name != "nt":
        return argv
    found = shutil.which(argv[0], path=env.get("PATH"))
    return [found, *argv[1:]] if found else argv


def run_child(
    argv: list[str], env: Mapping[str, str], stderr: IO[str], expires_at: float | None = None
) -> int:
    """Run ``argv`` to its end, passing signals on; its exit code, shell style. If it still runs
    at ``expires_at`` (epoch seconds, when its static keys expire), say so once on stderr."""
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
        notice = _expiry_notice(child, argv[0], expires_at, stderr)
        try:
            code = child.wait()
        finally:
            if notice is not None:
                notice.cancel()
    return 128 - code if code < 0 else code


def _expiry_notice(
    child: subprocess.Popen[Any], command: str, expires_at: float | None, stderr: IO[str]
) -> threading.Timer | None:
    """A timer that prints one line if ``child`` is still running when its keys expire."""
    if expires_at is None:
        return None

    def tell() -> None:
        if child.returncode is None:
            stderr.write(
                f"mdh-creds: the credentials given to {command} have expired and it is still "
                "running, so its AWS calls now fail: for commands that outlive them, run "
                f"mdh-creds exec --server -- {command} ...\n"
            )
            stderr.flush()

    timer = threading.Timer(max(0.0, expires_at - time.time()), tell)
    timer.daemon = True
    timer.start()
    return timer


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
