"""Run one child to its end the way a supervisor does (tini, dumb-init, aws-vault's exec): every
signal that can be passed on reaches the child exactly once, orphans are reaped when we are PID 1,
the child dies with us, and our caller learns whether the child died of a signal.

On Linux the forwardable signals (and SIGCHLD) are blocked in the supervising thread and taken
one at a time with ``sigtimedwait``, which says who sent each one. A signal the terminal sent
(``SI_KERNEL``: Ctrl-C, Ctrl-\\, a resize, a hang-up) went to the whole foreground process
group, the child included, so it is not sent again: Terraform reads a second interrupt as "stop
now". A signal sent to us alone (``kill``, ``docker stop``, ``timeout``) is passed on. A stop
(Ctrl-Z, SIGTSTP) stops us too, so the shell sees the job stop. The child starts with the
signal mask we had and with ``PR_SET_PDEATHSIG``: if we are killed (even by SIGKILL) it gets
SIGTERM, so nothing runs on against a dead endpoint.

Elsewhere (macOS, Windows) handlers pass the same signals on, without telling the terminal's from
a ``kill`` and without the death signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any, NamedTuple

# Never passed on: the supervisor's own business (SIGCHLD), faults of this process, and the two
# that cannot be caught.
_NOT_FORWARDED = {"SIGCHLD", "SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE"}
_NOT_FORWARDED |= {"SIGTRAP", "SIGSYS", "SIGABRT", "SIGPIPE"}
_STOPS = {"SIGTSTP", "SIGTTIN", "SIGTTOU"}
SI_KERNEL = 0x80  # <asm-generic/siginfo.h>: sent by the kernel for the terminal
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_TICK = 0.1  # s between checks that the child still runs


def forwardable_signals() -> tuple[signal.Signals, ...]:
    """The signals this platform can pass on to a child (SIGINT, SIGTERM, SIGHUP, SIGQUIT,
    SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT, SIGTSTP...)."""
    return tuple(sig for sig in signal.Signals if sig.name not in _NOT_FORWARDED)


FORWARDED = forwardable_signals()


class Outcome(NamedTuple):
    """How the child ended: a shell-style exit code, and the signal that killed it, if one did."""

    code: int
    signal: int | None = None


class NotStarted(Exception):
    """The child could not be started; ``code`` is the shell's (127 not found, 126 not runnable)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def outcome_of(status: int) -> Outcome:
    """An ``os.waitpid`` status (or a ``Popen.returncode``, negative for a signal) as an
    ``Outcome``."""
    if status < 0:
        return Outcome(128 - status, -status)
    if hasattr(os, "WIFSIGNALED") and os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return Outcome(128 + number, number)
    if hasattr(os, "WIFEXITED") and os.WIFEXITED(status):
        return Outcome(os.WEXITSTATUS(status))
    return Outcome(status)


def supervise(
    argv: Sequence[str], env: Mapping[str, str], *, started: Callable[[], None] = lambda: None
) -> Outcome:
    """Run ``argv`` to its end as its supervisor; ``started`` runs in this thread once the child
    runs. Raises ``NotStarted``."""
    on_main = threading.current_thread() is threading.main_thread()
    if on_main and hasattr(signal, "sigtimedwait") and sys.platform.startswith("linux"):
        return _supervise_linux(argv, env, started)
    return _supervise_with_handlers(argv, env, started, install=on_main)


def _start(argv: Sequence[str], env: Mapping[str, str], preexec: Any = None) -> Any:
    try:
        return subprocess.Popen(list(argv), env=dict(env), preexec_fn=preexec)  # noqa: PLW1509
    except FileNotFoundError:
        raise NotStarted(127, "command not found") from None
    except OSError as exc:
        raise NotStarted(126, f"cannot run it ({exc.strerror or type(exc).__name__})") from exc


def _supervise_linux(
    argv: Sequence[str], env: Mapping[str, str], started: Callable[[], None]
) -> Outcome:
    waited = {*FORWARDED, signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        child = _start(argv, env, _child_setup(previous, os.getpid()))
        started()
        return _wait_linux(child, waited)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _child_setup(mask: set[int | signal.Signals], parent: int) -> Callable[[], None]:
    """What the child does between fork and exec: our old signal mask back, and SIGTERM when
    we die. Only calls prepared before the fork (no import, no allocation of note)."""
    prctl = _prctl()
    restore = signal.pthread_sigmask

    def setup() -> None:
        restore(signal.SIG_SETMASK, mask)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != parent:  # we died before the death signal was armed
                os.kill(os.getpid(), signal.SIGTERM)

    return setup


def _prctl() -> Any:
    # The C library already loaded into this process: ctypes.util.find_library would run
    # ldconfig in a subprocess on every exec.
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None, use_errno=True).prctl
    return None


def _wait_linux(child: Any, waited: set[signal.Signals]) -> Outcome:
    reaper = os.getpid() == 1  # a container's first process adopts every orphan
    while True:
        info = signal.sigtimedwait(waited, _TICK)
        if info is None or info.si_signo == signal.SIGCHLD:
            # Polled on every wake-up too: a thread of the process that does not block SIGCHLD
            # (one started before us, by a library) may have taken it and discarded it.
            ended = _reap(child.pid, reaper)
            if ended is not None:
                child.returncode = ended  # Popen would otherwise wait for it again
                return outcome_of(ended)
            continue
        _pass_on(child, signal.Signals(info.si_signo), from_terminal=info.si_code == SI_KERNEL)


def _reap(pid: int, every: bool) -> int | None:
    """Reap what has ended (every child when ``every``); the status of ``pid`` if it ended."""
    status = None
    while True:
        try:
            found, code = os.waitpid(-1 if every else pid, os.WNOHANG)
        except ChildProcessError:
            return status
        if found == 0:
            return status
        if found == pid:
            status = code


def _pass_on(child: Any, signum: signal.Signals, *, from_terminal: bool) -> None:
    """Send ``signum`` to the child unless the terminal sent it to the child already; a stop
    stops us too, after the child, so the shell sees the job stop."""
    if not from_terminal:
        # os.kill, not Popen.send_signal: that polls, and would reap the child behind our back.
        # The pid cannot be reused before we reap it.
        with contextlib.suppress(OSError):
            os.kill(child.pid, signum)
    if signum.name in _STOPS:
        os.kill(os.getpid(), signal.SIGSTOP)


def _supervise_with_handlers(
    argv: Sequence[str], env: Mapping[str, str], started: Callable[[], None], *, install: bool
) -> Outcome:
    with SignalForwarder(install=install) as forwarder:
        child = _start(argv, env)
        forwarder.attach(child)
        started()
        return outcome_of(child.wait())


class SignalForwarder:
    """Handlers that pass the forwardable signals on to the attached child (the fallback where
    signals cannot be waited for). Signals that arrive before a child is attached are sent once
    it is. A signal this process ignores stays ignored; the old handlers come back on exit."""

    def __init__(self, *, install: bool = True) -> None:
        self._install = install
        self._child: subprocess.Popen[Any] | None = None
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalForwarder:
        if not self._install:
            return self
        for signum in FORWARDED:
            with contextlib.suppress(OSError, ValueError):
                if signal.getsignal(signum) != signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
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


def die_of(signum: int) -> None:
    """End this process by ``signum``, as the child ended, so a shell loop around us stops on
    Ctrl-C (bash reads "killed by SIGINT" as the user's wish to stop). Returns only when the
    signal does not end a process (SIGWINCH, SIGCHLD...)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    with contextlib.suppress(OSError, ValueError):
        signal.signal(signum, signal.SIG_DFL)
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
