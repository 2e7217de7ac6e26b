"""``MdhRefreshableCredentials``: reads that skip botocore's check until a refresh can be due,
botocore's advisory and mandatory semantics kept, a back-off after a failed advisory refresh, and
the same behaviour end to end through ``mdh_creds.session()`` against the emulator."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.credentials
import pytest

import mdh_creds
from conftest import World
from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.models import TemporaryCredentials
from mdh_creds.refresh import (
    RETRY_BACKOFF,
    MdhRefreshableCredentials,
    local_metadata,
    refreshable,
)
from mdh_creds.testing import sequence_minter

START = 1_900_000_000.0


class FakeClock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Source:
    """A ``refresh_using`` callback: numbered triples valid ``lifetime`` s, or failures."""

    def __init__(self, clock: FakeClock, lifetime: float = 100.0) -> None:
        self.clock, self.lifetime = clock, lifetime
        self.calls = self.issued = self.failures = 0

    def metadata(self) -> dict[str, str]:
        self.issued += 1
        expiry = datetime.fromtimestamp(self.clock.now + self.lifetime, timezone.utc)
        n = self.issued
        return {
            "access_key": f"AKID{n}",
            "secret_key": f"secret-{n}",
            "token": f"token-{n}",
            "expiry_time": expiry.isoformat(),
        }

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the broker is down")
        return self.metadata()


def make(
    clock: FakeClock, source: Source, advisory: float = 30.0, mandatory: float = 10.0
) -> MdhRefreshableCredentials:
    first = source.metadata()
    credentials = MdhRefreshableCredentials(
        access_key=first["access_key"],
        secret_key=first["secret_key"],
        token=first["token"],
        expiry_time=datetime.fromisoformat(first["expiry_time"]),
        refresh_using=source,
        method="custom-mdh",
        clock=clock,
    )
    credentials._advisory_refresh_timeout = advisory
    credentials._mandatory_refresh_timeout = mandatory
    return credentials


def key(credentials: MdhRefreshableCredentials) -> str:
    frozen = credentials.get_frozen_credentials()
    n = str(frozen.access_key).removeprefix("AKID")
    assert (frozen.secret_key, frozen.token) == (f"secret-{n}", f"token-{n}")
    return str(frozen.access_key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_reads_before_the_advisory_window_do_not_ask_the_time_zone(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_tzlocal() -> Any:
        raise AssertionError("the local time zone was read")

    monkeypatch.setattr(botocore.credentials, "tzlocal", no_tzlocal)
    fetched: list[datetime] = []
    source = Source(clock)
    credentials = make(clock, source)
    utc_fetcher = credentials._time_fetcher

    def spy() -> datetime:
        fetched.append(utc_fetcher())
        return fetched[-1]

    credentials._time_fetcher = spy
    assert key(credentials) == "AKID1"
    assert fetched and all(when.tzinfo is not None for when in fetched)
    assert fetched[0].timestamp() == pytest.approx(START)
    checks = len(fetched)
    for step in range(1000):
        clock.now = START + step * 0.069
        assert key(credentials) == "AKID1"
    assert len(fetched) == checks
    assert source.calls == 0
    assert credentials._refresh_at == pytest.approx(START + 100 - 30)


def test_the_default_clock_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.credentials, "tzlocal", lambda: 1 / 0)
    expiry = datetime.now(timezone.utc) + timedelta(hours=1)
    credentials = MdhRefreshableCredentials.create_from_metadata(
        {"access_key": "AKID1", "secret_key": "s", "token": "t", "expiry_time": expiry.isoformat()},
        refresh_using=lambda: None,
        method="custom-mdh",
    )
    assert credentials._time_fetcher().tzinfo == timezone.utc
    assert not credentials.refresh_needed()
    assert credentials.get_frozen_credentials().access_key == "AKID1"
    assert credentials._refresh_at == pytest.approx(expiry.timestamp() - 900)


def test_the_advisory_window_brings_new_credentials(clock: FakeClock) -> None:
    source = Source(clock)
    credentials = make(clock, source)
    assert key(credentials) == "AKID1"
    clock.now = START + 69.9
    assert key(credentials) == "AKID1"
    clock.now = START + 70.0
    assert key(credentials) == "AKID1"
    assert source.calls == 0
    clock.now = START + 70.001
    assert key(credentials) == "AKID2"
    assert source.calls == 1
    assert credentials._refresh_at == pytest.approx(START + 70.001 + 100 - 30)
    assert credentials.access_key == "AKID2"
    assert credentials.secret_key == "secret-2"
    assert credentials.token == "token-2"


def test_a_failed_advisory_refresh_keeps_the_old_triple_and_retries_after_a_back_off(
    clock: FakeClock,
) -> None:
    source = Source(clock)
    credentials = make(clock, source)
    key(credentials)
    source.failures = 2
    clock.now = START + 71
    assert key(credentials) == "AKID1"
    assert source.calls == 1
    assert credentials._refresh_at == pytest.approx(START + 71 + RETRY_BACKOFF)
    for step in range(50):
        clock.now = START + 71 + step * 0.099
        assert key(credentials) == "AKID1"
    assert source.calls == 1
    clock.now = START + 71 + RETRY_BACKOFF
    assert key(credentials) == "AKID1"
    assert source.calls == 2
    clock.now = START + 71 + 2 * RETRY_BACKOFF
    assert key(credentials) == "AKID2"
    assert source.calls == 3
    assert credentials._refresh_at == pytest.approx(clock.now + 100 - 30)


def test_readers_keep_the_old_triple_while_another_thread_refreshes(clock: FakeClock) -> None:
    source = Source(clock)
    credentials = make(clock, source)
    key(credentials)
    entered, release = threading.Event(), threading.Event()
    plain = source.metadata

    def slow_metadata() -> dict[str, str]:
        entered.set()
        release.wait(10)
        return plain()

    source.metadata = slow_metadata  # type: ignore[method-assign]
    clock.now = START + 75
    refresher = threading.Thread(target=credentials.get_frozen_credentials)
    refresher.start()
    assert entered.wait(10)
    for _ in range(100):
        assert key(credentials) == "AKID1"
    assert credentials._refresh_at == pytest.approx(START + 75 + RETRY_BACKOFF)
    release.set()
    refresher.join(10)
    assert key(credentials) == "AKID2"
    assert source.calls == 1


def test_the_back_off_never_reaches_past_the_mandatory_window(clock: FakeClock) -> None:
    source = Source(clock)
    credentials = make(clock, source, advisory=12.0, mandatory=10.0)
    key(credentials)
    source.failures = 3
    clock.now = START + 88.5
    assert key(credentials) == "AKID1"
    assert credentials._refresh_at == pytest.approx(START + 90)
    clock.now = START + 90.001
    for calls in (2, 3):
        with pytest.raises(RuntimeError, match="broker is down"):
            credentials.get_frozen_credentials()
        assert source.calls == calls
    assert key(credentials) == "AKID2"
    assert source.calls == 4


def test_expiry_times_are_aware(clock: FakeClock) -> None:
    source = Source(clock)
    credentials = make(clock, source)
    naive = datetime.fromtimestamp(START + 500, timezone.utc).replace(tzinfo=None)
    source.metadata = lambda: {  # type: ignore[method-assign]
        "access_key": "AKID9",
        "secret_key": "secret-9",
        "token": "token-9",
        "expiry_time": naive.isoformat(),
    }
    clock.now = START + 80
    assert key(credentials) == "AKID9"
    assert credentials._expiry_time is not None
    assert credentials._expiry_time.tzinfo is not None
    assert credentials._expiry_time.timestamp() == START + 500
    now = datetime.now(timezone.utc)
    creds = TemporaryCredentials(
        "AKID1", "s", "t", now.replace(tzinfo=None) + timedelta(hours=1), now.replace(tzinfo=None)
    )
    expiry = local_metadata(creds)["expiry_time"]
    assert datetime.fromisoformat(expiry).tzinfo is not None
    built = refreshable(lambda: creds, timedelta(seconds=1200))
    assert built._expiry_time is not None
    assert built._expiry_time.utcoffset() == timedelta(0)


# End to end: mdh_creds.session() against the emulator, credentials living a few seconds.

LIFETIME = 6
ACCESS_KEY = re.compile(r"ASIA(\d{16})")


@pytest.fixture
def env(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world's environment in ``os.environ``; numbered, short-lived credentials."""
    for name in [n for n in os.environ if n.startswith("MDH_")]:
        monkeypatch.delenv(name)
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)
    world.emulator.minter = sequence_minter()
    world.emulator.credential_lifetime = LIFETIME
    yield world
    os.environ.pop(GUARD_VARIABLE, None)


def watch(credentials: Any, until: float) -> list[tuple[float, int]]:
    """Read frozen credentials in a loop: ``(wall time, n)`` for the first read and each change.

    Stops ``until`` (monotonic) or shortly after the second change of key.
    """
    changes: list[tuple[float, int]] = []
    while time.monotonic() < until:
        frozen = credentials.get_frozen_credentials()
        now = time.time()
        match = ACCESS_KEY.fullmatch(frozen.access_key)
        assert match, frozen.access_key
        n = int(match.group(1))
        assert (frozen.secret_key, frozen.token) == (f"secret-{n}", f"token-{n}")
        if not changes or changes[-1][1] != n:
            changes.append((now, n))
        if len(changes) >= 2 and now > changes[1][0] + 0.3:
            break
        time.sleep(0.001)
    return changes


@pytest.mark.slow
def test_a_reader_looping_on_frozen_credentials_sees_the_new_key_in_the_advisory_window(
    env: World,
) -> None:
    credentials = mdh_creds.session(profile_name="mdh").get_credentials()
    expiry = credentials._expiry_time.timestamp()
    advisory = credentials._advisory_refresh_timeout
    assert advisory == pytest.approx(LIFETIME / 3, abs=0.05)
    changes = watch(credentials, time.monotonic() + LIFETIME + 2)
    assert [n for _, n in changes] == [1, 2]
    switched = changes[1][0]
    assert expiry - advisory <= switched < expiry
    assert env.emulator.count("exchange") == 2
    assert credentials._expiry_time.timestamp() > expiry


@pytest.mark.slow
@pytest.mark.parametrize(
    ("endpoint", "cache", "tokens", "exchanges"),
    [("token", "none", 3, 2), ("exchange", "file", 1, 3)],
)
def test_a_failing_refresh_in_the_advisory_window_keeps_the_old_triple_then_recovers(
    env: World, endpoint: str, cache: str, tokens: int, exchanges: int
) -> None:
    """One failed attempt when the advisory window opens; the next, after the back-off capped at
    the mandatory window, brings new credentials. Reads in between get the old triple."""
    session = mdh_creds.session(profile_name="mdh", cache=cache, retries=0)
    credentials = session.get_credentials()
    env.emulator.fail(endpoint, 500, times=1)
    expiry = credentials._expiry_time.timestamp()
    advisory = credentials._advisory_refresh_timeout
    mandatory = credentials._mandatory_refresh_timeout
    assert advisory - mandatory < RETRY_BACKOFF
    changes = watch(credentials, time.monotonic() + LIFETIME + 2)
    assert [n for _, n in changes] == [1, 2]
    switched = changes[1][0]
    assert expiry - mandatory - 0.05 <= switched < expiry
    assert env.emulator.count(endpoint) - env.emulator.successes(endpoint) == 1
    assert env.emulator.count("token") == tokens
    assert env.emulator.count("exchange") == exchanges
