"""A DynamoDB cache with local copies in front (``TieredCache``) against moto: what each tier
serves, when the table is read at all, and what the local copy holds after a refused write."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mdh_creds.cache.backends import select
from mdh_creds.cache.stored import CacheKey
from mdh_creds.cache.tiered import TieredCache
from mdh_creds.crypto import Sealer
from servers import Calls

SEALER = Sealer(b"tiered test key material")
KEY = CacheKey.for_identity({"account": "alpha"}, "credentials")
LATER = datetime.now(timezone.utc) + timedelta(hours=1)


class Machine:
    """One machine: its own cache folder; its table client built on demand and counted."""

    def __init__(self, client: Any, table: str, folder: Path) -> None:
        self.builds = 0
        self.calls = Calls(client)

        def factory() -> Any:
            self.builds += 1
            return client

        cache = select("dynamodb", folder=folder, dynamodb_client_factory=factory, table=table)
        assert isinstance(cache, TieredCache)
        self.cache = cache


@pytest.fixture
def machines(dynamodb_table: tuple[Any, str], tmp_path: Path) -> Any:
    from servers import dynamodb_client

    client, table = dynamodb_table

    def make(name: str) -> Machine:
        return Machine(dynamodb_client(client.meta.endpoint_url), table, tmp_path / name)

    return make


def test_a_local_copy_is_served_without_building_the_table_client(machines: Any) -> None:
    first = machines("one")
    sealed = SEALER.seal(KEY, {"n": 1})
    first.cache.save(KEY, sealed, LATER)
    again = machines("one")  # a later process on the same machine
    assert again.cache.load(KEY) == sealed
    assert again.builds == 0 and again.calls.made == []
    other = machines("two")  # another machine reads the table once, then its own copy
    assert other.cache.load(KEY) == sealed
    assert other.calls.made == ["GetItem"]
    assert machines("two").cache.load(KEY) == sealed


def test_a_stale_local_copy_reads_the_table_before_any_lease(machines: Any) -> None:
    one, two = machines("one"), machines("two")
    one.cache.save(KEY, SEALER.seal(KEY, {"n": 1}), LATER)
    assert two.cache.load(KEY) is not None  # two's copy, about to be judged stale
    newer = SEALER.seal(KEY, {"n": 2})
    one.cache.save(KEY, newer, LATER + timedelta(minutes=1))
    before = len(two.calls.made)
    seen: list[bytes | None] = []
    assert two.cache.load(KEY) != newer  # the broker's first look: the local copy

    def ready() -> bool:
        seen.append(two.cache.load(KEY))
        return seen[-1] == newer

    with two.cache.lock(KEY, 5, ready):
        pass
    assert seen == [newer]
    assert two.calls.made[before:] == ["GetItem"]  # no lease was written
    assert machines("two").cache.load(KEY) == newer  # and the local copy follows the table


def test_a_refused_write_keeps_the_tables_newer_entry_locally(machines: Any) -> None:
    one, two = machines("one"), machines("two")
    assert one.cache.load(KEY) is None and two.cache.load(KEY) is None
    newer, older = SEALER.seal(KEY, {"n": 2}), SEALER.seal(KEY, {"n": 1})
    one.cache.save(KEY, newer, LATER)
    two.cache.save(KEY, older, LATER - timedelta(minutes=5))
    assert machines("two").cache.load(KEY) == newer
    assert machines("three").cache.load(KEY) == newer


def test_an_unusable_local_folder_leaves_the_table(
    dynamodb_table: tuple[Any, str], tmp_path: Path
) -> None:
    client, table = dynamodb_table
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = select("dynamodb", folder=blocker, dynamodb_client_factory=lambda: client, table=table)
    assert isinstance(cache, TieredCache) and cache.local is None
    sealed = SEALER.seal(KEY, {"n": 1})
    cache.save(KEY, sealed, LATER)
    assert cache.load(KEY) == sealed
    assert "no local copies" in cache.describe()


def test_delete_and_list_cover_both_tiers(machines: Any) -> None:
    one = machines("one")
    other = CacheKey.for_identity({"account": "beta"}, "token")
    one.cache.save(KEY, SEALER.seal(KEY, {"n": 1}), LATER)
    one.cache.save(other, SEALER.seal(other, {"n": 1}), LATER)
    one.cache.table.delete(other)  # gone from the table, still in the local tier
    assert sorted(one.cache.list_keys(), key=str) == sorted([KEY, other], key=str)
    for key in (KEY, other):
        one.cache.delete(key)
    assert list(one.cache.list_keys()) == []
    assert machines("one").cache.load(KEY) is None
