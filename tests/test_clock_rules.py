"""The one place that judges time (DESIGN 5 and 6): a skew only ever makes credentials look older,
a ``Date`` that cannot be a real time is ignored, and the process path refreshes at 16 minutes
left whenever a fresh exchange gives more (botocore re-runs a process at 15 minutes or less).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import World
from mdh_creds.clock import parse_http_date, parse_timestamp
from mdh_creds.freshness import SDK_MIN_LEFT, Freshness, judge, to_local_seconds

NOW = 1_750_000_000.0
seconds = st.floats(min_value=-86_400 * 400, max_value=86_400 * 400, allow_nan=False)
lifetimes = st.floats(min_value=1, max_value=43_200, allow_nan=False)


@given(skew=seconds, lifetime=lifetimes, age=st.floats(min_value=0, max_value=50_000))
def test_a_skew_only_ever_makes_an_entry_older(skew: float, lifetime: float, age: float) -> None:
    """MDH gave ``lifetime`` seconds by its own clock (``skew`` ahead of ours) ``age`` s ago:
    the entry expires at the earlier of its Expiration at face value and that lifetime on our
    clock, so a wrong Date costs an early refresh at worst, never expired credentials."""
    received = NOW - age
    issued_at = received + skew  # MDH's clock when it answered
    expires_at = issued_at + lifetime
    local_expiry = to_local_seconds(expires_at, issued_at, skew)
    assert local_expiry == pytest.approx(min(expires_at, received + lifetime), abs=1e-3)
    state = judge(expires_at, issued_at, skew, 0.0, NOW)
    assert (state is Freshness.EXPIRED) is (local_expiry <= NOW)


@pytest.mark.parametrize(
    ("header", "real"),
    [
        ("Sat, 21 Jun 2025 10:00:00 GMT", True),
        ("Fri, 31 Dec 9999 23:59:59 GMT", False),
        ("Mon, 01 Jan 1900 00:00:00 GMT", False),
        ("Thu, 01 Jan 1970 00:00:00 GMT", False),
        ("Sat, 21 Jun 2025 10:00:00", False),  # no zone
        ("yesterday", False),
        ("\x1b[2J", False),
        ("", False),
        ("Sat, 21 Jun 2025 10:00:00 GMT" * 10, False),
    ],
)
def test_only_a_date_that_can_be_real_is_used(header: str, real: bool) -> None:
    assert (parse_http_date(header) is not None) is real


def test_process_refreshes_at_16_minutes_left_when_a_new_exchange_gives_more(
    world: World,
) -> None:
    # 30-minute credentials with 15.5 minutes left: fresh by the usual window (min(20, 30/3) =
    # 10 min), but botocore would re-run the process on every call within half a minute.
    planted = world.plant_credentials(
        left=timedelta(minutes=15.5), lifetime=timedelta(minutes=30)
    ).access_key_id
    exported = world.main("export", "--format", "json")
    assert json.loads(exported.out)["AccessKeyId"] == planted  # other paths: the usual window
    result = world.run("process")  # the console script: the fast path, then the full command
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["AccessKeyId"] != planted
    assert world.emulator.count("exchange") == 1
    left = parse_timestamp(document["Expiration"]) - datetime.now(timezone.utc)
    assert left > timedelta(seconds=SDK_MIN_LEFT)


@pytest.mark.parametrize("runner", ["subprocess", "in-process"])
def test_process_serves_short_lifetimes_from_the_cache(world: World, runner: str) -> None:
    # 15-minute credentials: no exchange can give more than 16 minutes, so the usual window
    # (a third of the lifetime) holds and the entry is served.
    planted = world.plant_credentials(
        left=timedelta(minutes=14), lifetime=timedelta(minutes=15)
    ).access_key_id
    result = world.run("process") if runner == "subprocess" else world.main("process")
    assert result.code == 0, result.err
    assert json.loads(result.out)["AccessKeyId"] == planted
    assert world.emulator.count("exchange") == 0
