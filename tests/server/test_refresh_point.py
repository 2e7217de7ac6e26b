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
from mdh_creds.cache.backends import select
from mdh_creds.cache.stored import KIND_CREDENTIALS, CacheKey
from mdh_creds.clock import parse_timestamp
from mdh_creds.crypto import Sealer
from mdh_creds.factory import build_broker
from mdh_creds.freshness import SDK_MIN_LEFT
from mdh_creds.mdh.account import ServiceAccount, resolve
from mdh_creds.models import TemporaryCredentials
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


def _plant(world: World, *, left: timedelta, lifetime: timedelta) -> TemporaryCredentials:
    """A valid cache entry (sealed with the account's key) with ``left`` of ``lifetime`` left."""
    env = world.env()
    account = resolve(parse_settings(env), env)
    assert isinstance(account, ServiceAccount)
    key = CacheKey.for_identity(account.identity, KIND_CREDENTIALS)
    now = datetime.now(timezone.utc)
    creds = TemporaryCredentials(
        "ASIAPLANTED0000000001",
        "planted-secret-access-key",
        "planted-session-token",
        expires_at=now + left,
        issued_at=now + left - lifetime,
    )
    cache = select("file", folder=world.cache_dir)
    cache.save(key, Sealer(account.key.der).seal(key, creds.to_payload()), creds.expires_at)
    return creds


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
        planted = _plant(world, left=left, lifetime=lifetime)
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
    planted = _plant(
        world, left=timedelta(minutes=minutes - 1), lifetime=timedelta(minutes=minutes)
    )
    env = world.env()
    broker = build_broker(parse_settings(env), environ=env, min_left=SDK_MIN_LEFT)
    due = broker.refresh_due(planted)
    expected = planted.local_expires_at.timestamp() - SDK_MIN_LEFT
    assert due == pytest.approx(expected, abs=1e-3)
