"""The wrapped command as the broker's credential ``Source``: run it, check what it prints.

The command runs without a shell, with the arguments as given, the environment as given (plus
``CHAIN_VARIABLE``, which refuses a wrap that would run itself), stdin and stderr passed through
(botocore shows a failed process's stderr to the user), stdout read and bounded in time and in
size (a command that prints more than ``MAX_OUTPUT`` bytes is killed and refused).

Every failure is an ``ExchangeError``, so a stale entry is served through it with a warning:
exit 4 for a command that fails or prints no valid document, 5 for one that does not answer in
time, 3 for one that cannot be started (a missing program names what to fix).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from mdh_creds.clock import Clock, parse_timestamp, utc_now
from mdh_creds.errors import ConfigError, ExchangeRejected, ExchangeUnavailable
from mdh_creds.freshness import MAX_TRUSTED_LIFETIME
from mdh_creds.models import TemporaryCredentials
from mdh_creds.redact import printable
from mdh_creds.wrapped.answer import MAX_OUTPUT, AnswerError, parse_answer
from mdh_creds.wrapped.identity import CHAIN_VARIABLE, chain_link, in_chain


class CommandMissing(ExchangeRejected):
    """The wrapped command cannot be started (not found, not executable): a setting to fix."""

    exit_code = 3


_log = logging.getLogger(__name__)
_CHUNK = 1 << 16  # bytes per read of the command's output
_REAP_SECONDS = 5.0  # how long a killed command may take to exit


def shown(argv: Sequence[str]) -> str:
    """The command as messages name it: the program only (its arguments may hold a secret)."""
    return printable(os.path.basename(argv[0]))[:80] if argv else "?"


def refuse_loop(environ: Mapping[str, str], argv: Sequence[str]) -> None:
    """Exit 3 when this same wrap is already running above this process (a profile that wraps
    itself, or whose cache's own AWS client resolves credentials through it)."""
    if in_chain(environ.get(CHAIN_VARIABLE, ""), argv):
        raise ConfigError(
            f"the wrapped command {shown(argv)} runs this same wrap again (a loop): wrap a "
            "command that does not use the profile that wraps it, and give the cache's own "
            "AWS client another profile (--aws-profile)"
        )


@contextmanager
def chained(argv: Sequence[str]) -> Iterator[None]:
    """While the block runs, every process this one starts (the cache's own AWS clients may
    run a credential_process) carries this wrap in ``CHAIN_VARIABLE``: a wrap of the same
    command beneath it refuses at once instead of starting another."""
    previous = os.environ.get(CHAIN_VARIABLE)
    link = chain_link(argv)
    os.environ[CHAIN_VARIABLE] = f"{previous}:{link}" if previous else link
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CHAIN_VARIABLE, None)
        else:
            os.environ[CHAIN_VARIABLE] = previous


class CommandSource:
    """Runs ``argv`` once per ``fetch_credentials``; its answer becomes ``TemporaryCredentials``."""

    def __init__(
        self,
        argv: Sequence[str],
        environ: Mapping[str, str],
        *,
        timeout: float,
        default_lifetime: float | None = None,
        clock: Clock = utc_now,
    ) -> None:
        # A copy: what is given, whatever ``chained`` later adds to this process's own.
        self.argv, self._environ = list(argv), dict(environ)
        self.timeout, self.default_lifetime, self._clock = timeout, default_lifetime, clock

    def __repr__(self) -> str:
        return f"CommandSource({shown(self.argv)!r})"

    def child_environ(self) -> dict[str, str]:
        """The environment as given, with this wrap added to the chain."""
        chain = self._environ.get(CHAIN_VARIABLE, "")
        link = chain_link(self.argv)
        return {**self._environ, CHAIN_VARIABLE: f"{chain}:{link}" if chain else link}

    def fetch_credentials(self) -> TemporaryCredentials:
        output = self._run()
        try:
            answer = parse_answer(output)
        except AnswerError as exc:
            raise ExchangeRejected(f"the wrapped command {shown(self.argv)} {exc}") from None
        return self._credentials(answer)

    def _run(self) -> bytes:
        """What the command printed: at most ``MAX_OUTPUT`` bytes are read, and a command that
        prints more, or does not finish in time, is killed and refused."""
        name = shown(self.argv)
        _log.debug("running the wrapped command %s (timeout %g s)", name, self.timeout)
        child = self._start(name)
        deadline = time.monotonic() + self.timeout
        reader = _Reader(child)
        try:
            output = reader.output(deadline)
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise ExchangeUnavailable(
                f"the wrapped command {name} did not answer within {self.timeout:g} s "
                "(raise --command-timeout if it needs longer)"
            ) from None
        except _Overflow:
            raise ExchangeRejected(
                f"the wrapped command {name} printed more than {MAX_OUTPUT} bytes (stopped)"
            ) from None
        finally:
            _stop(child, reader)
        if child.returncode != 0:
            raise ExchangeRejected(f"the wrapped command {name} exited with {child.returncode}")
        return output

    def _start(self, name: str) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(self.argv, env=self.child_environ(), stdout=subprocess.PIPE)
        except FileNotFoundError:
            raise CommandMissing(
                f"the wrapped command {name} was not found: check its path"
            ) from None
        except PermissionError:
            raise CommandMissing(
                f"the wrapped command {name} cannot be run (permission denied)"
            ) from None
        except OSError as exc:
            raise CommandMissing(
                f"the wrapped command {name} cannot be run ({exc.strerror})"
            ) from None

    def _credentials(self, answer: dict[str, object]) -> TemporaryCredentials:
        now = self._clock()
        expires_at = self._expiry(answer["Expiration"], now)
        return TemporaryCredentials(
            access_key_id=str(answer["AccessKeyId"]),
            secret_access_key=str(answer["SecretAccessKey"]),
            session_token=str(answer["SessionToken"]),
            expires_at=expires_at,
            issued_at=now,
        )

    def _expiry(self, expiration: object, now: datetime) -> datetime:
        """The entry's end: the ``Expiration`` (trusted for 12 hours at most), else now plus
        ``--default-lifetime``; a missing or past one is refused."""
        name = shown(self.argv)
        if expiration is None:
            if self.default_lifetime is None:
                raise ExchangeRejected(
                    f"the wrapped command {name} printed no Expiration: a cache needs one "
                    "(give --default-lifetime SECONDS for long-term keys)"
                )
            return now + timedelta(seconds=self.default_lifetime)
        try:
            expires_at = parse_timestamp(str(expiration))
        except ValueError:
            raise ExchangeRejected(
                f"the wrapped command {name} printed an Expiration that is not an ISO 8601 time"
            ) from None
        if expires_at <= now:
            raise ExchangeRejected(f"the wrapped command {name} printed an Expiration already past")
        return min(expires_at, now + timedelta(seconds=MAX_TRUSTED_LIFETIME))


class _Overflow(Exception):
    """The command printed more than ``MAX_OUTPUT`` bytes."""


class _Reader:
    """Reads a child's stdout in a thread (pipes cannot be polled everywhere), up to its end or
    just past ``MAX_OUTPUT`` bytes: memory holds that much and one chunk at most, whatever the
    command prints."""

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        self.stream, self.done = child.stdout, threading.Event()
        self.chunks: list[bytes] = []
        threading.Thread(target=self._read, name="mdh-creds-wrap-read", daemon=True).start()

    def _read(self) -> None:
        size = 0
        try:
            while size <= MAX_OUTPUT:
                chunk = os.read(self.stream.fileno(), _CHUNK)
                if not chunk:
                    break
                self.chunks.append(chunk)
                size += len(chunk)
        except (OSError, ValueError):  # the pipe closed under the reader: nothing more to read
            pass
        finally:
            self.done.set()

    def output(self, deadline: float) -> bytes:
        """What was printed: ``TimeoutExpired`` past ``deadline``, ``_Overflow`` past
        ``MAX_OUTPUT`` bytes."""
        if not self.done.wait(max(0.0, deadline - time.monotonic())):
            raise subprocess.TimeoutExpired("wrapped command", 0)
        output = b"".join(self.chunks)
        if len(output) > MAX_OUTPUT:
            raise _Overflow()
        return output

    def close(self) -> None:
        """Let go of the pipe once the reader is done (not under a blocked read: a process the
        command left behind may still hold the pipe, and the descriptor could be reused)."""
        if self.done.wait(_REAP_SECONDS):
            self.stream.close()


def _stop(child: subprocess.Popen[bytes], reader: _Reader) -> None:
    """Kill the child if it still runs, reap it, and let go of its pipe."""
    if child.poll() is None:
        child.kill()
        try:
            child.wait(_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            _log.debug("the wrapped command did not exit after being killed")
    reader.close()
