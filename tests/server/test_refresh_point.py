"""One refresh point for what is handed to an SDK (DESIGN 3.4 and 5): for 30- and 45-minute
credentials, ``process`` and the endpoint of ``exec --server`` refresh at the same moment, 16
minutes before expiry, so neither hands out credentials an SDK would treat as due.

Each case plants a sealed entry with a little more, or a little less, than 16 minutes left, then
asks ``process`` (a real subprocess: the fast path, then the full command) and the endpoint (a
child of ``exec --server`` reading it over HTTP) for credentials.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import World
from mdh_creds.clock import parse_timestamp
from mdh_creds.factory import build_broker
from mdh_creds.freshness import SDK_MIN_LEFT
from mdh_creds.settings.model import parse_settings

# Asks the endpoint once with the token it was given; writes the answer to the file in argv[1].
ENDPOINT_CHILD = """
import os, sys, urllib.request
request = urllib.request.Request(
    os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
    headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]},
)
with urllib.request.urlopen(request, timeout=5) as answer, open(sys.argv[1], "wb") as out:
    out.write(answer.read())
"""
MARGIN = timedelta(seconds=30)  # either side of the refresh point


def _from_process(world: World) -> dict[str, str]:
    result = world.run("process")
    assert result.code == 0, result.err
    document: dict[str, str] = json.loads(result.out)
    return document


def _from_endpoint(world: World, tmp_path: Path) -> dict[str, str]:
    answer = tmp_path / "endpoint-answer.json"
    result = world.main("exec", "--server", "--", sys.executable, "-c", ENDPOINT_CHILD, str(answer))
    assert result.code == 0, result.err
    document: dict[str, str] = json.loads(answer.read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("minutes", [30, 45])
@pytest.mark.parametrize("side", ["before", "after"])
def test_process_and_the_endpoint_refresh_at_the_same_point(
    world: World, tmp_path: Path, minutes: int, side: str
) -> None:
    lifetime = timedelta(minutes=minutes)
    point = timedelta(seconds=SDK_MIN_LEFT)
    left = point + MARGIN if side == "before" else point - MARGIN
    served: dict[str, dict[str, str]] = {}
    for surface in ("endpoint", "process"):
        planted = world.plant_credentials(left=left, lifetime=lifetime)
        document = (
            _from_endpoint(world, tmp_path) if surface == "endpoint" else _from_process(world)
        )
        served[surface] = document
        refreshed = document["AccessKeyId"] != planted.access_key_id
        assert refreshed is (side == "after"), (surface, minutes, side)
        expires = parse_timestamp(document["Expiration"])
        assert expires - datetime.now(timezone.utc) > timedelta(minutes=15), surface
    expected_exchanges = 2 if side == "after" else 0
    assert world.emulator.count("exchange") == expected_exchanges


@pytest.mark.parametrize("minutes", [30, 45])
def test_the_endpoint_schedules_its_refresh_where_process_would_refresh(
    world: World, minutes: int
) -> None:
    """The keeper's next refresh is the broker's ``refresh_due``: 16 minutes before expiry for a
    broker built as ``exec --server`` and ``serve`` build it, whatever the refresh window."""
    lifetime = timedelta(minutes=minutes)
    planted = world.plant_credentials(left=lifetime - timedelta(minutes=1), lifetime=lifetime)
    env = world.env()
    broker = build_broker(parse_settings(env), environ=env, min_left=SDK_MIN_LEFT)
    due = broker.refresh_due(planted)
    expected = planted.local_expires_at.timestamp() - SDK_MIN_LEFT
    assert due == pytest.approx(expected, abs=1e-3)
