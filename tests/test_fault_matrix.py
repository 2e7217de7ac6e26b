"""The fault matrix: one table of things that go wrong, each checked for the same outcomes.

For every row: the exit code, stderr (one line per message, each ``mdh-creds: ``, the expected text,
no traceback), stdout (credential JSON exactly when credentials are served, else nothing), the
cache afterwards, and that no secret reached stderr, stdout (beyond the credentials) or the cache.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import filelock
import pytest

import hostile
from conftest import Result, World, secrets_of, wait_for
from mdh_creds.clock import parse_timestamp
from servers import free_port

STORED = "stored"  # a new credentials entry is in the cache folder and `status` calls it fresh
ABSENT = "absent"  # no credentials entry in the cache folder
UNCHANGED = "unchanged"  # the cache folder's entries are byte for byte what they were before
TABLE = "mdh-creds-cache"
_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")


@dataclass
class Case:
    """One row being run: the world, how to run mdh-creds, and what the setup remembered."""

    world: World
    request: pytest.FixtureRequest
    args: list[str] = field(default_factory=lambda: ["process"])
    env: dict[str, str] = field(default_factory=dict)
    drop_env: set[str] = field(default_factory=set)
    subprocess: bool = False
    previous: dict[str, Any] | None = None
    before: dict[str, bytes] = field(default_factory=dict)
    elapsed: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    close_stdout: bool = False

    def run(self) -> Result:
        if not self.subprocess:
            return self.world.main(*self.args, **self.env)
        env = self.world.env(**self.env)
        for name in self.drop_env:
            env.pop(name, None)
        command = [sys.executable, "-m", "mdh_creds", *self.args]
        if self.close_stdout:
            command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)


Setup = Callable[[Case], None]
Check = Callable[[Case, Result], None]


@dataclass(frozen=True)
class Fault:
    """A row of the matrix. ``message`` None: stderr stays empty. ``lines`` None: one or more."""

    name: str
    setup: Setup
    code: int
    message: str | None
    served: bool
    cache: str
    lines: int | None = 1
    check: Check | None = None
    bug: str | None = None  # a known src bug: the row is a strict xfail until it is fixed


# --- setups ---------------------------------------------------------------------------------


def steps(*setups: Setup) -> Setup:
    def run(case: Case) -> None:
        for setup in setups:
            setup(case)

    return run


def fail(endpoint: str, status: int, times: int = 10, **headers: str) -> Setup:
    def setup(case: Case) -> None:
        case.world.emulator.fail(endpoint, status, times=times, headers=headers or None)

    return setup


def malformed(endpoint: str, body: str, content_type: str = "application/json") -> Setup:
    def setup(case: Case) -> None:
        case.world.emulator.malformed(endpoint, body, times=10, content_type=content_type)

    return setup


def rewrite(endpoint: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Setup:
    def setup(case: Case) -> None:
        case.world.emulator.set_answer_override(endpoint, change)

    return setup


def profile(**keys: str) -> Setup:
    def setup(case: Case) -> None:
        case.world.write_profile(**keys)

    return setup


def emulator(**settings: Any) -> Setup:
    def setup(case: Case) -> None:
        for name, value in settings.items():
            setattr(case.world.emulator, name, value)

    return setup


def without(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda answer: {k: v for k, v in answer.items() if k != name}


def with_value(name: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda answer: {**answer, name: value}


def closed_token_port(case: Case) -> None:
    case.world.write_profile(
        mdh_token_url=f"http://127.0.0.1:{free_port()}/identityserver/connect/token"
    )


def tls_to_plain_http(case: Case) -> None:
    https = case.world.emulator.token_url.replace("http://", "https://", 1)
    case.world.write_profile(mdh_token_url=https)


def naive_expiration(case: Case) -> None:
    def change(answer: dict[str, Any]) -> dict[str, Any]:
        moment = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
        naive = moment.strftime("%Y-%m-%dT%H:%M:%S")
        case.notes["naive"] = naive
        return {**answer, "Expiration": naive}

    case.world.emulator.set_answer_override("exchange", change)


def expired_by_server_clock(case: Case) -> None:
    """The server runs 10 minutes ahead; Expiration is 1 minute in its past (9 in ours)."""
    case.world.emulator.date_skew = 600

    def change(answer: dict[str, Any]) -> dict[str, Any]:
        moment = datetime.fromtimestamp(time.time() + 600 - 60, timezone.utc)
        return {**answer, "Expiration": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")}

    case.world.emulator.set_answer_override("exchange", change)


def first_run(case: Case) -> None:
    """A successful exchange that fills the cache; its credentials are remembered."""
    result = case.world.main("process")
    assert result.code == 0, result.err
    case.previous = json.loads(result.out)
    case.notes["first_run_ended"] = time.monotonic()


def sleep_after_first_run(seconds: float) -> Setup:
    def setup(case: Case) -> None:
        wait = case.notes["first_run_ended"] + seconds - time.monotonic()
        time.sleep(max(0.0, wait))

    return setup


def entry_becomes(*states: str | None) -> Setup:
    """Wait until ``status`` calls the cached credentials one of ``states``: as soon as they age
    into it."""

    def setup(case: Case) -> None:
        what = f"the cached credentials to be {states}"
        wait_for(lambda: case.world.state() in states, what, every=0.1)

    return setup


def tamper_entry(case: Case) -> None:
    (entry,) = case.world.cache_dir.glob("credentials-*.bin")
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0x01
    entry.write_bytes(bytes(data))


def cache_under_a_file(case: Case) -> None:
    blocker = case.world.tmp / "blocker"
    blocker.write_text("a regular file, not a folder\n")
    case.world.write_profile(mdh_cache_dir=str(blocker / "sub"))


def dynamodb_at(endpoint: Callable[[Case], str]) -> Setup:
    """mdh_cache = dynamodb, run as a real process with fake AWS keys and this endpoint."""

    def setup(case: Case) -> None:
        case.world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=TABLE)
        case.subprocess = True
        case.args = ["process", "--profile", case.world.profile]
        case.drop_env = {"AWS_PROFILE"}  # the plugin's own AWS calls must not use the mdh profile
        case.env.update(
            AWS_ENDPOINT_URL=endpoint(case),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )

    return setup


def closed_port_url(case: Case) -> str:
    return f"http://127.0.0.1:{free_port()}"


def moto_without_table(case: Case) -> str:
    moto = case.request.getfixturevalue("moto")
    return str(moto.url)


class _Throttling(BaseHTTPRequestHandler):
    """Answers every DynamoDB call the way a throttled table does."""

    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was "
                "exceeded.",
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def throttling_endpoint(case: Case) -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    _Throttling.hits = 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    case.request.addfinalizer(stop)
    return f"http://127.0.0.1:{server.server_port}"


def keyring_without_dbus(case: Case) -> None:
    case.world.write_profile(mdh_cache="keyring")
    case.subprocess = True
    case.env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={case.world.tmp}/no-such-bus"


def keyring_locked(case: Case) -> None:
    # A real Secret Service, in os.environ (for secretstorage here) and in the command's own
    # environment (the keyring class is read from the environment a command is given).
    case.world.extra_env.update(case.request.getfixturevalue("keyring_env"))
    import secretstorage

    collection = secretstorage.get_default_collection(secretstorage.dbus_init())
    collection.lock()
    case.request.addfinalizer(lambda: _unlock(collection))
    assert collection.is_locked()
    case.world.write_profile(mdh_cache="keyring")


def _unlock(collection: Any) -> None:
    from mdh_creds.testing.servers import unlock_default_collection

    unlock_default_collection(collection)


def killed_lock_holder(case: Case) -> None:
    """A process holding the entry lock is SIGKILLed in the middle of a 5 s exchange."""
    world = case.world
    inside = threading.Event()

    def slow(answer: dict[str, Any]) -> dict[str, Any]:
        inside.set()
        time.sleep(5)
        return answer

    world.emulator.set_answer_override("exchange", slow)
    holder = subprocess.Popen(
        [sys.executable, "-m", "mdh_creds", "process"],
        env=world.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert inside.wait(30), "the first process never reached the exchange"
        (lock_path,) = (world.cache_dir / "locks").glob("credentials-*.lock")
        probe = filelock.FileLock(lock_path, is_singleton=False)
        with pytest.raises(filelock.Timeout):
            probe.acquire(timeout=0.1)  # the holder really holds it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        world.emulator.set_answer_override("exchange", None)
    assert holder.returncode == -signal.SIGKILL
    case.subprocess = True  # the second contender is a process of its own too


# --- setups: hostile or broken files (the cache folder, the lock folder, the profile) --------


def as_process(case: Case) -> None:
    """Run the console script as a real process: the cache-hit fast path first."""
    case.subprocess = True


def entry_replaced_by(kind: str) -> Setup:
    """After a first run, the credentials entry becomes a FIFO, a link or a 1 GiB file."""

    def setup(case: Case) -> None:
        (entry,) = case.world.cache_dir.glob("credentials-*.bin")
        entry.unlink()
        if kind == "fifo":
            os.mkfifo(entry)
        elif kind == "link":
            entry.symlink_to("/dev/zero")
        else:
            with open(entry, "wb") as handle:
                handle.truncate(1 << 30)  # sparse

    return setup


def locks_as(kind: str) -> Setup:
    def setup(case: Case) -> None:
        folder = case.world.cache_dir
        folder.mkdir(mode=0o700)
        if kind == "file":
            (folder / "locks").write_text("not a folder\n")
        else:
            elsewhere = case.world.tmp / "elsewhere"
            elsewhere.mkdir(mode=0o700)
            (folder / "locks").symlink_to(elsewhere)

    return setup


def open_cache_folder(case: Case) -> None:
    case.world.cache_dir.mkdir()
    os.chmod(case.world.cache_dir, 0o777)


def pasted_key(setting: str) -> Setup:
    def setup(case: Case) -> None:
        pem = case.world.account.key_pair.private_pem.strip()
        case.world.write_profile(**{setting: " ".join(pem.splitlines())})

    return setup


def configure_with_pasted_key(case: Case) -> None:
    pem = case.world.account.key_pair.private_pem.strip()
    case.args = ["configure", "--profile", "mdh", "--private-key-file", " ".join(pem.splitlines())]
    case.notes["config"] = case.world.config.read_bytes()


def config_unchanged(case: Case, result: Result) -> None:
    assert case.world.config.read_bytes() == case.notes["config"]


def killed_writer_left_a_temporary_file(case: Case) -> None:
    case.world.cache_dir.mkdir(mode=0o700)
    leftover = case.world.cache_dir / ".tmp-killed.part"
    leftover.write_bytes(b"half an entry")
    hour_ago = time.time() - 3600
    os.utime(leftover, (hour_ago, hour_ago))
    case.notes["leftover"] = leftover


def leftover_swept(case: Case, result: Result) -> None:
    assert not case.notes["leftover"].exists()


def config_text(change: Callable[[str], str]) -> Setup:
    def setup(case: Case) -> None:
        config = case.world.config
        config.write_text(change(config.read_text()))

    return setup


# --- extra checks ---------------------------------------------------------------------------


def requests_made(endpoint: str, count: int) -> Check:
    def check(case: Case, result: Result) -> None:
        assert case.world.emulator.count(endpoint) == count

    return check


def all_of(*checks: Check) -> Check:
    def check(case: Case, result: Result) -> None:
        for one in checks:
            one(case, result)

    return check


def waited_at_least(seconds: float) -> Check:
    def check(case: Case, result: Result) -> None:
        assert case.elapsed >= seconds

    return check


def printed_naive_time_as_utc(case: Case, result: Result) -> None:
    assert json.loads(result.out)["Expiration"] == case.notes["naive"] + "Z"


def every_line_about_the_clock(case: Case, result: Result) -> None:
    lines = result.err.splitlines()
    assert lines
    for line in lines:
        assert line.startswith("mdh-creds: WARNING: ") and "clock" in line
        assert re.search(r" by -?(59[5-9]|60[0-5]) s: fix the system clock$", line), line


def served_at_face_value(case: Case, result: Result) -> None:
    """MDH's clock is 10 min behind and its Expiration says 5 min are left by the local clock:
    a skew may only make credentials look older, so 5 min it is (not the 15 the server's clock
    would give); the entry is fresh for that lifetime and served again from the cache."""
    printed = parse_timestamp(json.loads(result.out)["Expiration"])
    left_by_local_clock = printed - datetime.now(timezone.utc)
    assert timedelta(minutes=4) < left_by_local_clock <= timedelta(minutes=5, seconds=2)
    again = case.world.main("process")
    assert again.code == 0, again.err
    assert json.loads(again.out) == json.loads(result.out)
    assert case.world.emulator.count("exchange") == 1


def served_the_previous_credentials(case: Case, result: Result) -> None:
    assert case.previous is not None
    assert json.loads(result.out) == case.previous


def promptly_after_the_kill(case: Case, result: Result) -> None:
    # Had the dead holder's lock survived, this run would wait out the whole lock budget (~35 s).
    assert case.elapsed < 15
    assert case.world.emulator.count("exchange") == 1


def throttling_was_hit(case: Case, result: Result) -> None:
    assert _Throttling.hits >= 1


# --- the matrix -----------------------------------------------------------------------------

FAULTS: list[Fault] = [
    Fault(
        "token 500 persistent",
        fail("token", 500),
        5,
        "answered HTTP 500",
        False,
        ABSENT,
        check=requests_made("token", 3),
    ),
    Fault(
        "token 502 persistent",
        fail("token", 502),
        5,
        "answered HTTP 502",
        False,
        ABSENT,
        check=requests_made("token", 3),
    ),
    Fault(
        "token 503 persistent",
        fail("token", 503),
        5,
        "answered HTTP 503",
        False,
        ABSENT,
        check=requests_made("token", 3),
    ),
    Fault(
        "token 503 twice then recovers",
        fail("token", 503, times=2),
        0,
        None,
        True,
        STORED,
        check=requests_made("token", 3),
    ),
    Fault(
        "token 429 with Retry-After: 1 then recovers",
        fail("token", 429, times=1, **{"Retry-After": "1"}),
        0,
        None,
        True,
        STORED,
        check=all_of(requests_made("token", 2), waited_at_least(0.9)),
    ),
    Fault(
        "token 429 persistent without Retry-After",
        fail("token", 429),
        5,
        "answered HTTP 429",
        False,
        ABSENT,
        check=requests_made("token", 3),
    ),
    Fault(
        "token endpoint hangs past the timeout",
        steps(
            profile(mdh_timeout="0.5", mdh_retries="1"),
            lambda case: case.world.emulator.delay("token", 3.0, times=2),
        ),
        5,
        "timed out after 0.5 s",
        False,
        ABSENT,
    ),
    Fault(
        "connection refused",
        closed_token_port,
        5,
        "cannot reach the MDH token endpoint",
        False,
        ABSENT,
    ),
    Fault(
        "TLS to a plain-HTTP server",
        tls_to_plain_http,
        5,
        "SSLError",
        False,
        ABSENT,
    ),
    Fault(
        "token answer is HTML",
        malformed("token", "<html><body>Maintenance</body></html>", "text/html"),
        4,
        "not JSON (text/html",
        False,
        ABSENT,
        check=requests_made("token", 1),
    ),
    Fault(
        "explorer answer is truncated JSON",
        malformed("exchange", '{"AccessKeyId": "ASIA0000000000000001", "SecretAcc'),
        4,
        "not JSON",
        False,
        ABSENT,
        check=requests_made("exchange", 1),
    ),
    Fault(
        "token answer is deeply nested JSON",
        malformed("token", "[" * 100_000 + "]" * 100_000),
        4,
        "token",
        False,
        ABSENT,
    ),
    Fault(
        "token answer without access_token",
        rewrite("token", without("access_token")),
        4,
        "no valid access_token",
        False,
        ABSENT,
    ),
    Fault(
        "token answer with negative expires_in",
        rewrite("token", with_value("expires_in", -30)),
        4,
        "impossible expires_in",
        False,
        ABSENT,
    ),
    Fault(
        "token answer with absurd expires_in",
        rewrite("token", with_value("expires_in", 10**12)),
        4,
        "impossible expires_in",
        False,
        ABSENT,
    ),
    Fault(
        "explorer 401",
        fail("exchange", 401),
        4,
        "answered HTTP 401",
        False,
        ABSENT,
        check=requests_made("exchange", 1),
    ),
    Fault(
        "explorer 403",
        fail("exchange", 403),
        4,
        "answered HTTP 403",
        False,
        ABSENT,
        check=requests_made("exchange", 1),
    ),
    Fault(
        "explorer 500 persistent",
        fail("exchange", 500),
        5,
        "answered HTTP 500",
        False,
        ABSENT,
        check=requests_made("exchange", 3),
    ),
    Fault(
        "credentials without SessionToken",
        rewrite("exchange", without("SessionToken")),
        4,
        "no valid SessionToken",
        False,
        ABSENT,
    ),
    Fault(
        "Expiration in the past",
        rewrite("exchange", with_value("Expiration", "2020-01-01T00:00:00Z")),
        4,
        "expired at 2020-01-01T00:00:00Z",
        False,
        ABSENT,
    ),
    Fault(
        "Expiration past by the server clock only",
        expired_by_server_clock,
        4,
        "MDH returned credentials that expired",
        False,
        ABSENT,
        lines=None,  # the clock warnings come first
    ),
    Fault(
        "Expiration unparsable",
        rewrite("exchange", with_value("Expiration", "next Tuesday")),
        4,
        "unparsable Expiration",
        False,
        ABSENT,
    ),
    Fault(
        "Expiration beyond the datetime range",
        rewrite("exchange", with_value("Expiration", "9999-12-31T23:59:59-01:00")),
        4,
        "Expiration",
        False,
        ABSENT,
    ),
    Fault(
        "expires_in is a non-ASCII digit string",
        rewrite("token", with_value("expires_in", "\u00b2")),
        4,
        "expires_in",
        False,
        ABSENT,
    ),
    Fault(
        "Expiration without a timezone (UTC)",
        naive_expiration,
        0,
        None,
        True,
        STORED,
        check=printed_naive_time_as_utc,
    ),
    Fault(
        "server clock 10 minutes ahead",
        emulator(date_skew=600),
        0,
        "the local clock differs from MDH's by",
        True,
        STORED,
        lines=None,
        check=every_line_about_the_clock,
    ),
    Fault(
        "server clock 10 minutes behind, Expiration taken at face value",
        emulator(date_skew=-600, credential_lifetime=900),
        0,
        "the local clock differs from MDH's by -",
        True,
        STORED,
        lines=None,
        check=all_of(every_line_about_the_clock, served_at_face_value),
    ),
    Fault(
        "cache entry tampered",
        steps(first_run, tamper_entry),
        0,
        None,
        True,
        STORED,
        check=requests_made("exchange", 2),
    ),
    Fault(
        "DynamoDB unreachable",
        dynamodb_at(closed_port_url),
        0,
        f"DynamoDB table {TABLE} cannot be reached",
        True,
        ABSENT,
    ),
    Fault(
        "DynamoDB throttled",
        dynamodb_at(throttling_endpoint),
        0,
        f"DynamoDB table {TABLE} is throttling requests",
        True,
        ABSENT,
        check=throttling_was_hit,
    ),
    Fault(
        "DynamoDB table missing",
        dynamodb_at(moto_without_table),
        0,
        f"DynamoDB table {TABLE} not found: create it with `mdh-creds configure --create-table`",
        True,
        ABSENT,
    ),
    Fault(
        "keyring absent (no D-Bus)",
        keyring_without_dbus,
        0,
        "keyring",
        True,
        ABSENT,
    ),
    Fault(
        "keyring locked",
        keyring_locked,
        0,
        "the OS keyring is locked",
        True,
        ABSENT,
    ),
    Fault(
        "cache folder unusable (under a regular file)",
        cache_under_a_file,
        0,
        "is not usable",
        True,
        ABSENT,
    ),
    Fault(
        "lock holder killed mid-exchange",
        killed_lock_holder,
        0,
        None,
        True,
        STORED,
        check=promptly_after_the_kill,
    ),
    Fault(
        "stale entry, refresh fails",
        steps(
            emulator(credential_lifetime=6),  # refresh window min(1200, 6/3) = 2 s
            first_run,
            entry_becomes("stale"),  # 2 s or less left: stale, not expired
            fail("exchange", 503),
        ),
        0,
        "refresh failed",
        True,
        UNCHANGED,
        check=served_the_previous_credentials,
    ),
    Fault(
        "entry expired by the local clock only (MDH 5 s behind), refresh fails",
        steps(
            emulator(credential_lifetime=6, date_skew=-5),
            first_run,
            # By the server clock 0.6-1.6 s are left (stale: the window is 2 s); by the local
            # clock it has expired, and a clock behind ours never makes credentials look younger:
            # not served. Time itself is what this row needs to pass.
            sleep_after_first_run(4.4),
            fail("exchange", 503),
        ),
        5,
        "answered HTTP 503",
        False,
        UNCHANGED,
    ),
    Fault(
        "expired entry, refresh fails",
        steps(
            emulator(credential_lifetime=2),
            first_run,
            entry_becomes("expired"),
            fail("exchange", 503),
        ),
        5,
        "answered HTTP 503",
        False,
        UNCHANGED,
    ),
    # Hostile or broken files: the cache folder, the lock folder, the profile, a pasted key.
    Fault(
        "FIFO in place of the cache entry",
        steps(first_run, entry_replaced_by("fifo"), as_process),
        0,
        None,
        True,
        STORED,
        check=requests_made("exchange", 2),
    ),
    Fault(
        "cache entry links to /dev/zero",
        steps(first_run, entry_replaced_by("link"), as_process),
        0,
        None,
        True,
        STORED,
        check=requests_made("exchange", 2),
    ),
    Fault(
        "cache entry of 1 GiB",
        steps(first_run, entry_replaced_by("huge"), as_process),
        0,
        None,
        True,
        STORED,
        check=requests_made("exchange", 2),
    ),
    Fault(
        "cache folder writable by others",
        steps(open_cache_folder, as_process),
        0,
        "other users can write to it (mode 777)",
        True,
        ABSENT,
    ),
    Fault(
        "lock folder is a file",
        locks_as("file"),
        0,
        "lock folder",
        True,
        ABSENT,
    ),
    Fault(
        "lock folder is a symbolic link",
        locks_as("link"),
        0,
        "it is a symbolic link",
        True,
        ABSENT,
    ),
    Fault(
        "private key pasted as mdh_private_key_file",
        pasted_key("mdh_private_key_file"),
        3,
        "this looks like a key, not a path",
        False,
        ABSENT,
    ),
    Fault(
        "private key pasted as mdh_cache_dir",
        pasted_key("mdh_cache_dir"),
        3,
        "this looks like a key, not a path",
        False,
        ABSENT,
    ),
    Fault(
        "configure with a key as --private-key-file",
        configure_with_pasted_key,
        3,
        "this looks like a key, not a path",
        False,
        ABSENT,
        check=config_unchanged,
    ),
    Fault(
        "temporary file left by a killed writer",
        killed_writer_left_a_temporary_file,
        0,
        None,
        True,
        STORED,
        check=leftover_swept,
    ),
    Fault(
        "profile section repeated",
        config_text(lambda text: text + "\n[profile mdh]\nregion = us-west-2\n"),
        3,
        "repeats the section",
        False,
        ABSENT,
    ),
    Fault(
        "profile header with two spaces or quotes",
        config_text(lambda text: text.replace("[profile mdh]", '[profile  "mdh"]')),
        0,
        None,
        True,
        STORED,
    ),
    Fault(
        "form feed and U+2028 inside a profile value",
        config_text(lambda text: text + "description = page\x0cbreak\u2028line\n"),
        0,
        None,
        True,
        STORED,
    ),
]


# --- a hostile network, wrong clocks, the process around us (issue 10: network, time, process) ---


def _hostile(case: Case, answer: hostile.Answer, **kwargs: Any) -> hostile.Hostile:
    server = hostile.Hostile(answer, **kwargs)
    case.request.addfinalizer(server.stop)
    case.notes["server"] = server
    return server


def hostile_explorer(make: Callable[[str], hostile.Answer], *, tls: bool = False) -> Setup:
    """The explorer endpoint is a hostile server (``make`` gets the emulator's URL to relay to);
    ``tls``: served over TLS signed by a private CA, whose bundle is ``notes["ca_bundle"]``."""

    def setup(case: Case) -> None:
        emulator = case.world.emulator
        context = None
        if tls:
            ca = hostile.PrivateCa(case.world.tmp / "private-ca")
            context, case.notes["ca_bundle"] = ca.server_context(), str(ca.bundle)
        server = _hostile(case, make(emulator.base_url), tls=context)
        path = emulator.legacy_exchange_url.removeprefix(emulator.base_url)
        case.world.write_profile(mdh_exchange_url=server.url + path)

    return setup


def hostile_token(answer: hostile.Answer) -> Setup:
    def setup(case: Case) -> None:
        server = _hostile(case, answer)
        case.world.write_profile(mdh_token_url=server.url + "/identityserver/connect/token")

    return setup


def relayed_with(name: str, value: str) -> Callable[[str], hostile.Answer]:
    return lambda target: hostile.rewritten(target, hostile.with_header(name, value))


def trusted_private_ca(case: Case) -> None:
    case.world.write_profile(ca_bundle=case.notes["ca_bundle"])


def netrc_for_mdh(case: Case) -> None:
    netrc = case.world.tmp / "home" / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-for-mdh\n", encoding="utf-8")
    netrc.chmod(0o600)
    case.subprocess = True  # HOME is the world's home only in a process of its own


def exported_url(case: Case) -> None:
    case.env["URL"] = f"http://127.0.0.1:{free_port()}/collects-assertions"


def stdout_closed(case: Case) -> None:
    case.subprocess = case.close_stdout = True


def sent_far_less_than(size: int) -> Check:
    def check(case: Case, result: Result) -> None:
        assert case.notes["server"].sent < size // 4  # the rest was never read

    return check


def nothing_raw_on_the_terminal(case: Case, result: Result) -> None:
    assert result.err.endswith("\n") and result.err[:-1].isprintable()
    assert "\\x1b]0;owned\\x07\\x1b[2J" in result.err


def explorer_got_the_raw_token(case: Case, result: Result) -> None:
    explorer = case.world.emulator.requests[-1]
    assert explorer.endpoint == "legacy" and explorer.status == 200
    assert not explorer.headers["Authorization"].startswith("Basic")


def trusted_for_12_hours(case: Case, result: Result) -> None:
    left = parse_timestamp(json.loads(result.out)["Expiration"]) - datetime.now(timezone.utc)
    assert timedelta(hours=11, minutes=59) < left <= timedelta(hours=12)


HUGE = 200 * hostile.MIB
ESCAPES = "text/html\x1b]0;owned\x07\x1b[2J"

FAULTS += [
    Fault(
        "explorer trickles its answer a byte at a time",
        steps(
            profile(mdh_timeout="1", mdh_retries="0"),
            hostile_explorer(hostile.trickled),
        ),
        5,
        "timed out after 1 s",
        False,
        ABSENT,
    ),
    Fault(
        "explorer trickles its status line and headers",
        steps(
            profile(mdh_timeout="1", mdh_retries="0"),
            hostile_explorer(lambda target: hostile.trickled(target, headers_too=True)),
        ),
        5,
        "timed out after 1 s",
        False,
        ABSENT,
    ),
    Fault(
        "whole call: a Retry-After the call's bound cannot fit",
        steps(
            profile(mdh_timeout="1", mdh_retries="1"), fail("token", 503, **{"Retry-After": "30"})
        ),
        5,
        "answered HTTP 503",
        False,
        ABSENT,
        check=requests_made("token", 1),
    ),
    Fault(
        "token answer of 200 MB with its Content-Length",
        hostile_token(hostile.huge(HUGE)),
        4,
        "sent an answer over 1 MiB; refused",
        False,
        ABSENT,
        check=sent_far_less_than(HUGE),
    ),
    Fault(
        "token answer of 200 MB, chunked",
        hostile_token(hostile.huge(HUGE, chunked=True)),
        4,
        "sent an answer over 1 MiB; refused",
        False,
        ABSENT,
        check=sent_far_less_than(HUGE),
    ),
    Fault(
        "token answer is a gzip bomb (256 KiB inflating to 256 MiB)",
        hostile_token(hostile.bomb()),
        4,
        "sent an answer over 1 MiB; refused",
        False,
        ABSENT,
    ),
    Fault(
        "explorer Content-Type carries terminal escape sequences",
        malformed("exchange", "<html></html>", ESCAPES),
        4,
        "not JSON (text/html\\x1b]0;owned",
        False,
        ABSENT,
        check=nothing_raw_on_the_terminal,
    ),
    Fault(
        "Date in year 9999 (ignored)",
        hostile_explorer(relayed_with("Date", "Fri, 31 Dec 9999 23:59:59 GMT")),
        0,
        None,
        True,
        STORED,
    ),
    Fault(
        "Date that is not a time (ignored)",
        hostile_explorer(relayed_with("Date", "soon, or never")),
        0,
        None,
        True,
        STORED,
    ),
    Fault(
        "server clock 3 hours behind: expired by the local clock",
        emulator(date_skew=-3 * 3600),
        4,
        "MDH returned credentials that expired at",
        False,
        ABSENT,
        lines=None,  # the clock warnings come first
    ),
    Fault(
        "Expiration in year 9999: trusted for 12 hours",
        rewrite("exchange", with_value("Expiration", "9999-12-31T23:59:59Z")),
        0,
        "trusting them for 12 hours only",
        True,
        STORED,
        check=trusted_for_12_hours,
    ),
    Fault(
        "~/.netrc names the MDH host",
        netrc_for_mdh,
        0,
        None,
        True,
        STORED,
        check=explorer_got_the_raw_token,
    ),
    Fault(
        "URL exported beside the profile's mdh_token_url",
        exported_url,
        0,
        None,
        True,
        STORED,
        check=requests_made("token", 1),
    ),
    Fault(
        "explorer behind a private CA named by the profile's ca_bundle",
        steps(
            hostile_explorer(lambda target: hostile.rewritten(target, lambda r: r), tls=True),
            trusted_private_ca,
        ),
        0,
        None,
        True,
        STORED,
    ),
    Fault(
        "explorer behind a private CA, no CA bundle",
        hostile_explorer(lambda target: hostile.rewritten(target, lambda r: r), tls=True),
        5,
        "SSLError",
        False,
        ABSENT,
    ),
    Fault(
        "stdout closed",
        stdout_closed,
        1,
        "stdout is closed: nothing was printed (run mdh-creds with its output open)",
        False,
        ABSENT,
    ),
]


# --- the test -------------------------------------------------------------------------------


def readable(path: Path) -> bool:
    """A regular file small enough to read (a planted FIFO, link or huge file is not)."""
    return path.is_file() and not path.is_symlink() and path.stat().st_size <= 1 << 20


def entries(folder: Path) -> dict[str, bytes]:
    """Every cache entry file in ``folder``: name -> bytes."""
    if not folder.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.bin")) if readable(path)}


def every_file(folder: Path) -> Iterator[bytes]:
    if folder.is_dir():
        for path in folder.rglob("*"):
            if readable(path):
                yield path.read_bytes()


def assert_credentials(out: str) -> dict[str, Any]:
    assert out.endswith("\n") and out.count("\n") == 1, out
    document = json.loads(out)
    assert list(document) == [
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ]
    assert document["Version"] == 1
    assert _KEY_ID.match(document["AccessKeyId"])
    assert document["SecretAccessKey"] and document["SessionToken"]
    assert isinstance(document["SecretAccessKey"], str)
    assert isinstance(document["SessionToken"], str)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["Expiration"])
    parse_timestamp(document["Expiration"])
    return dict(document)


def assert_stderr(fault: Fault, err: str) -> None:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert err == "" or err.endswith("\n")
    for line in lines:
        assert line.startswith("mdh-creds: "), err
    expected = fault.lines if fault.message is not None else 0
    if expected is None:
        assert lines, "expected at least one line on stderr"
    else:
        assert len(lines) == expected, err
    if fault.message is not None:
        where = lines[-1] if fault.code != 0 else err
        assert fault.message in where, err
    if fault.code != 0:
        assert "WARNING" not in lines[-1]
        for line in lines[:-1]:
            assert line.startswith("mdh-creds: WARNING: "), err


def assert_cache(fault: Fault, case: Case) -> None:
    folder = case.world.cache_dir
    after = credential_entries_of(entries(folder))
    if fault.cache == ABSENT:
        assert after == {}
    elif fault.cache == UNCHANGED:
        assert after, "the setup should have left an entry"
        assert entries(folder) == case.before
    else:
        assert len(after) == 1
        assert after != credential_entries_of(case.before)
        status = case.world.main("status", "--json", *case.args[1:], **case.env)
        assert status.code == 0, status.err
        report = json.loads(status.out)
        states = [e["state"] for e in report["entries"] if e["kind"] == "credentials"]
        assert states == ["fresh"], report["entries"]


def credential_entries_of(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in snapshot.items() if k.startswith("credentials-")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            f, id=f.name, marks=[pytest.mark.xfail(strict=True, reason=f.bug)] if f.bug else []
        )
        for f in FAULTS
    ],
)
def test_fault(fault: Fault, world: World, request: pytest.FixtureRequest) -> None:
    case = Case(world, request)
    fault.setup(case)
    case.before = entries(world.cache_dir)
    started = time.monotonic()
    result = case.run()
    case.elapsed = time.monotonic() - started

    assert result.code == fault.code, result.err
    assert_stderr(fault, result.err)
    served: dict[str, Any] = {}
    if fault.served:
        served = assert_credentials(result.out)
        server_now = datetime.now(timezone.utc) + timedelta(seconds=world.emulator.date_skew)
        assert parse_timestamp(served["Expiration"]) > server_now
    else:
        assert result.out == ""
    assert_cache(fault, case)

    previous = case.previous or {}
    creds = [served.get("SecretAccessKey"), served.get("SessionToken")]
    creds += [previous.get("SecretAccessKey"), previous.get("SessionToken")]
    pem = world.account.key_pair.private_pem
    key_lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    secrets = secrets_of(world, *creds, *key_lines)
    for secret in secrets:
        assert secret not in result.err
    for secret in secrets_of(world, *key_lines):
        assert secret not in result.out
    for blob in every_file(world.cache_dir):
        for secret in secrets:
            assert secret.encode() not in blob
    assert world.emulator.errors == []
    if fault.check is not None:
        fault.check(case, result)


def assert_json_log(fault: Fault, err: str) -> None:
    """Every stderr line is one JSON object with the fields a log pipeline keys on; a failure's
    last line is the ``error`` event with the exit code; the expected text is in a message."""
    documents = [json.loads(line) for line in err.splitlines()]
    for document in documents:
        assert isinstance(document, dict), err
        assert {"time", "level", "event", "message"} <= set(document), document
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["time"])
    if fault.code != 0:
        assert documents[-1]["event"] == "error", err
        assert documents[-1]["exit_code"] == fault.code
    if fault.message is not None:
        assert any(fault.message in d["message"] for d in documents), err
    events = {d["event"] for d in documents}
    assert "command" in events or fault.code != 0 or fault.served  # the fast path logs a hit


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name) for f in FAULTS if not f.bug])
def test_fault_with_json_logs(fault: Fault, world: World, request: pytest.FixtureRequest) -> None:
    """The same faults with ``MDH_LOG_FORMAT=json``: the same exit code and output, every log
    line parses as JSON, and none holds a secret."""
    case = Case(world, request)
    fault.setup(case)
    case.env["MDH_LOG_FORMAT"] = "json"
    result = case.run()

    assert result.code == fault.code, result.err
    assert "Traceback" not in result.err
    assert_json_log(fault, result.err)
    served = assert_credentials(result.out) if fault.served else {}
    if not fault.served:
        assert result.out == ""
    previous = case.previous or {}
    creds = [served.get("SecretAccessKey"), served.get("SessionToken")]
    creds += [previous.get("SecretAccessKey"), previous.get("SessionToken")]
    pem = world.account.key_pair.private_pem
    key_lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    for secret in secrets_of(world, *creds, *key_lines):
        assert secret not in result.err
        assert json.dumps(secret)[1:-1] not in result.err  # nor escaped inside a JSON string


def test_the_matrix_covers_every_exit_code_and_outcome() -> None:
    """The table itself: names are unique and each outcome the contract names is present."""
    names = [f.name for f in FAULTS]
    assert len(names) == len(set(names))
    assert {f.code for f in FAULTS} == {0, 1, 3, 4, 5}
    assert {f.cache for f in FAULTS} == {STORED, ABSENT, UNCHANGED}
    assert any(f.served and f.message for f in FAULTS)
