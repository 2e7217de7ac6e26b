"""``mdh-creds exec -- CMD ARGS...``: run one command with the credentials in its environment.

The child gets the variables every AWS SDK reads (``formats.to_environment``) and
``MDH_CREDS_EXEC=<profile>``; ``AWS_PROFILE`` and ``AWS_DEFAULT_PROFILE`` are removed so it uses
the variables rather than resolving the profile again. ``exec`` supervises it
(``cli.supervisor``): every signal that can be passed on reaches it once (one the terminal
already sent to it is not sent again), orphans are reaped when ``exec`` is a container's PID 1,
and it gets SIGTERM if ``exec`` is killed. Its exit code becomes ours; when a signal ended it,
the console script dies of the same signal. 127: CMD not found; 126: CMD cannot be run. With
no CMD it opens the user's shell (``$SHELL``, else ``/bin/sh``), as aws-vault does
(``MDH_CREDS_EXEC`` tells a prompt it is inside). Static keys expire: when the child is still
running at that moment, one line on stderr says so and names ``exec --server``.

``--server``: the child gets ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` of an endpoint that lives as long as it (``server/``), the
region, and none of the variables with which an SDK would find other credentials first
(``CHILD_STRIPPED``, DESIGN 3.4). ``--profile-env``: no keys, ``AWS_PROFILE=<profile>``, so the
child's SDK runs the profile's ``credential_process`` itself whenever it needs to.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.cli.context import Context, load_settings, make_broker
from mdh_creds.errors import ConfigError
from mdh_creds.formats import to_environment
from mdh_creds.freshness import SDK_MIN_LEFT

if TYPE_CHECKING:
    from mdh_creds.settings.model import Settings

EXEC_VARIABLE = "MDH_CREDS_EXEC"
REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN", GUARD_VARIABLE)
EPILOG = "With no CMD, exec opens your shell ($SHELL, else /bin/sh) with the credentials."


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
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- CMD ...",
        help="the command to run, after -- (none: your shell)",
    )


def run(ctx: Context) -> int:
    argv = command_line(getattr(ctx.args, "argv", None))
    inside = ctx.environ.get(EXEC_VARIABLE)
    if inside:
        what = f"run {argv[0]} directly" if argv else "exit this shell first"
        raise ConfigError(f"already inside `mdh-creds exec` for profile {inside}: {what}")
    argv = argv or [user_shell(ctx.environ)]
    settings = load_settings(ctx)
    if ctx.flags.get("server"):
        return exec_with_server(ctx, settings, argv)
    if ctx.flags.get("profile_env"):
        return exec_with_profile(ctx, settings, argv)
    creds = make_broker(ctx, settings).get_credentials()
    env = child_environment(ctx.environ, to_environment(creds, settings.region), settings.profile)
    return run_child(ctx, argv, env, expires_at=creds.local_expires_at.timestamp())


def user_shell(environ: Mapping[str, str]) -> str:
    """The shell ``exec`` opens when given no command: ``$SHELL``, else the system's."""
    if os.name == "nt":
        return environ.get("COMSPEC") or "cmd.exe"
    return environ.get("SHELL") or "/bin/sh"


def exec_with_server(ctx: Context, settings: Settings, argv: list[str]) -> int:
    """Run ``argv`` with the endpoint's variables; the endpoint stops when the child ends."""
    from mdh_creds.server.launch import CHILD_STRIPPED, region_variables, start_endpoint

    warn_default_keys(ctx, argv[0])
    if not settings.region:  # the child's SDK would stop with NoRegionError at its first call
        ctx.say(
            f"no region for profile {settings.profile}: {argv[0]} gets none, and its AWS SDK "
            "stops at its first call (NoRegionError): set region in the profile or AWS_REGION",
            level="warning",
        )
    broker = make_broker(ctx, settings, min_left=SDK_MIN_LEFT)
    endpoint, keeper = start_endpoint(broker, account_id=settings.account_id)
    try:
        variables = {**endpoint.variables(), **region_variables(settings)}
        removed = (*REMOVED_VARIABLES, *CHILD_STRIPPED)
        env = child_environment(ctx.environ, variables, settings.profile, removed)
        return run_child(ctx, argv, env)
    finally:
        endpoint.stop()
        keeper.stop()


def exec_with_profile(ctx: Context, settings: Settings, argv: list[str]) -> int:
    """Run ``argv`` with ``AWS_PROFILE`` set and no keys, the cache warmed first."""
    from mdh_creds.server.launch import CHILD_STRIPPED
    from mdh_creds.settings.profiles import load_profile

    make_broker(ctx, settings).get_credentials()  # fail here, not in the child; warm the cache
    keys = load_profile(str(settings.config_file), settings.profile) or {}
    if "credential_process" not in keys and "role_arn" not in keys:  # a role: botocore assumes it
        ctx.say(
            f"profile {settings.profile} in {settings.config_file} has no "
            f"credential_process, so SDKs in {argv[0]} find no credentials through it: run "
            f"mdh-creds configure --profile {settings.profile}",
            level="warning",
        )
    removed = (*REMOVED_VARIABLES, *CHILD_STRIPPED)
    env = child_environment(
        ctx.environ, {"AWS_PROFILE": settings.profile}, settings.profile, removed
    )
    return run_child(ctx, argv, env)


def warn_default_keys(ctx: Context, command: str) -> None:
    """Static keys in ``[default]`` of the shared credentials file outrank the endpoint."""
    from mdh_creds.settings import awsconfig

    try:
        found = awsconfig.find_shadowing_keys(ctx.environ, "default")
    except ConfigError:
        return
    if found:
        ctx.say(
            f"[default] in {awsconfig.credentials_file_path(ctx.environ)} "
            f"holds {', '.join(found)}: SDKs in {command} use those keys before the endpoint; "
            "remove them from that file",
            level="warning",
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
    ctx: Context, argv: list[str], env: Mapping[str, str], expires_at: float | None = None
) -> int:
    """Run ``argv`` to its end under the supervisor; its exit code, shell style (a signal that
    ended it is also kept in ``ctx.child_signal``). If it still runs at ``expires_at`` (epoch
    seconds, when its static keys expire), say so once on stderr."""
    from mdh_creds.cli.supervisor import NotStarted, supervise

    ctx.stdout.flush()
    ctx.stderr.flush()
    notice = ExpiryNotice(ctx, argv[0], expires_at)
    try:
        outcome = supervise(resolve_command(argv, env), env, started=notice.start)
    except NotStarted as exc:
        ctx.say(f"exec: {argv[0]}: {exc}", level="error", event="error")
        return exc.code
    finally:
        notice.cancel()
    ctx.child_signal = outcome.signal
    return outcome.code


class ExpiryNotice:
    """One line on stderr if the child still runs when its static keys expire."""

    def __init__(self, ctx: Context, command: str, expires_at: float | None) -> None:
        self._ctx, self._command, self._expires_at = ctx, command, expires_at
        self._done = threading.Event()

    def start(self) -> None:
        """Started by the supervisor once the child runs (so this thread leaves the signals to
        the supervising thread, whose mask it inherits)."""
        if self._expires_at is None:
            return
        thread = threading.Thread(target=self._wait, name="mdh-creds-expiry", daemon=True)
        thread.start()

    def cancel(self) -> None:
        self._done.set()

    def _wait(self) -> None:
        assert self._expires_at is not None
        if self._done.wait(max(0.0, self._expires_at - time.time())):
            return
        self._ctx.say(
            f"the credentials given to {self._command} have expired and it is still running, "
            "so its AWS calls now fail: for commands that outlive them, run "
            f"mdh-creds exec --server -- {self._command} ...",
            level="warning",
            event="expired",
        )
