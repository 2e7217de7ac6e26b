"""The DynamoDB backend against moto: leases, missing table, unreachable endpoint, error mapping."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from mdh_creds.cache.backends import select
from mdh_creds.cache.dynamodb import LEASE_PREFIX, DynamoDBCache, create_table
from mdh_creds.cache.stored import CacheKey
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable, LockTimeout
from servers import Calls, MotoServer, dynamodb_client, free_port

SEALER = Sealer(b"dynamodb test key material")
KEY = CacheKey.for_identity({"account": "alpha"}, "credentials")
LATER = datetime.now(timezone.utc) + timedelta(hours=1)
HINT = "create it with `mdh-creds configure --create-table` or set mdh_dynamodb_table"
QUICK = 5.0


def _lease(client: Any, table: str) -> dict[str, Any] | None:
    reply = client.get_item(TableName=table, Key={"pk": {"S": LEASE_PREFIX + KEY.name}})
    item: dict[str, Any] | None = reply.get("Item")
    return item


def _abandoned_lease(client: Any, table: str, seconds: float) -> None:
    """A lease as a holder that died leaves it: nobody renews it, it lapses in ``seconds``."""
    until = time.time() + seconds
    item = {
        "pk": {"S": LEASE_PREFIX + KEY.name},
        "owner": {"S": "dead-holder"},
        "lease_until": {"N": f"{until:.3f}"},
        "expires_at": {"N": str(int(until) + 1)},
    }
    client.put_item(TableName=table, Item=item)


@pytest.mark.timeout(30)
def test_lease_of_a_vanished_holder_is_taken_over(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    _abandoned_lease(client, table, 1.5)
    other = DynamoDBCache(client, table, lease_seconds=30, poll_initial=0.05, poll_max=0.2)
    with pytest.raises(LockTimeout, match=table), other.lock(KEY, 0.3):
        pass
    start = time.monotonic()
    with other.lock(KEY, 10):
        elapsed = time.monotonic() - start
        taken = _lease(client, table)
        assert taken is not None
        assert taken["owner"]["S"] != "dead-holder"
    assert 0.5 <= elapsed < 1.5 + QUICK
    assert _lease(client, table) is None


@pytest.mark.timeout(30)
def test_a_held_lease_is_renewed_while_its_holder_runs(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    holder = DynamoDBCache(client, table, lease_seconds=0.9)
    waiter = DynamoDBCache(client, table, lease_seconds=0.9, poll_initial=0.05, poll_max=0.1)
    with holder.lock(KEY, 1):
        first = float(_lease(client, table)["lease_until"]["N"])  # type: ignore[index]
        # Three lease lengths: unrenewed, the lease would have lapsed twice over.
        with pytest.raises(LockTimeout), waiter.lock(KEY, 2.7):
            pass
        later = float(_lease(client, table)["lease_until"]["N"])  # type: ignore[index]
        assert later >= first + 1.5
    assert _lease(client, table) is None
    with waiter.lock(KEY, 1):
        pass


@pytest.mark.timeout(30)
def test_a_waiter_writes_once_then_reads_the_entry_until_it_is_ready(
    dynamodb_table: tuple[Any, str],
) -> None:
    client, table = dynamodb_table
    writer = DynamoDBCache(client, table)
    waiter_client = dynamodb_client(client.meta.endpoint_url)
    calls = Calls(waiter_client)
    waiter = DynamoDBCache(waiter_client, table, poll_initial=0.05, poll_max=0.2)

    def ready() -> bool:
        return waiter.load(KEY) is not None

    with writer.lock(KEY, 1):
        held = _lease(client, table)
        threading.Timer(0.8, lambda: writer.save(KEY, SEALER.seal(KEY, {"n": 1}), LATER)).start()
        start = time.monotonic()
        with waiter.lock(KEY, 20, ready):
            elapsed = time.monotonic() - start
            assert _lease(client, table) == held  # entered without the lease: still the writer's
    assert 0.7 <= elapsed < 0.8 + QUICK
    assert calls.count("PutItem") == 1
    assert calls.count("DeleteItem") == 0
    assert calls.made.count("GetItem") >= 2
    assert set(calls.made) == {"PutItem", "GetItem"}


@pytest.mark.timeout(30)
def test_a_waiter_takes_over_a_lease_released_without_an_entry(
    dynamodb_table: tuple[Any, str],
) -> None:
    client, table = dynamodb_table
    holder = DynamoDBCache(client, table, lease_seconds=1.0)
    waiter = DynamoDBCache(client, table, poll_initial=0.05, poll_max=0.2)
    started = holder.lock(KEY, 1)
    started.__enter__()
    threading.Timer(0.3, lambda: started.__exit__(None, None, None)).start()  # a failed exchange
    start = time.monotonic()
    with waiter.lock(KEY, 10, lambda: waiter.load(KEY) is not None):
        assert _lease(client, table) is not None
    assert time.monotonic() - start < 1.0 + QUICK


def test_an_older_entry_never_replaces_a_newer_one(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    early, late = DynamoDBCache(client, table), DynamoDBCache(client, table)
    assert early.load(KEY) is None and late.load(KEY) is None  # both saw nothing
    newer, older = SEALER.seal(KEY, {"n": 2}), SEALER.seal(KEY, {"n": 1})
    assert early.store(KEY, newer, LATER) is None
    kept = late.store(KEY, older, LATER - timedelta(minutes=5))
    assert kept == (newer, float(int(LATER.timestamp())))
    assert late.load(KEY) == newer
    late.save(KEY, SEALER.seal(KEY, {"n": 3}), LATER + timedelta(minutes=5))
    assert SEALER.open(KEY, early.load(KEY)) == {"n": 3}


def test_an_unreadable_entry_this_process_saw_is_replaced(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    far = LATER + timedelta(days=1)  # e.g. sealed with a key since rotated, expiring later
    DynamoDBCache(client, table).save(KEY, Sealer(b"the old key").seal(KEY, {"n": 1}), far)
    cache = DynamoDBCache(client, table)
    assert SEALER.open(KEY, cache.load(KEY)) is None
    assert cache.store(KEY, SEALER.seal(KEY, {"n": 2}), LATER) is None
    assert SEALER.open(KEY, cache.load(KEY)) == {"n": 2}


def test_leases_are_not_entries(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    cache = DynamoDBCache(client, table)
    with cache.lock(KEY, 1):
        assert list(cache.list_keys()) == []
        assert cache.load(KEY) is None


def test_list_keys_follows_pages(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table

    class SmallPages:
        def __getattr__(self, name: str) -> Any:
            return getattr(client, name)

        def scan(self, **params: Any) -> Any:
            return client.scan(Limit=2, **params)

    cache = DynamoDBCache(SmallPages(), table)
    keys = [CacheKey.for_identity({"n": str(n)}, "token") for n in range(7)]
    for key in keys:
        cache.save(key, SEALER.seal(key, {"n": 1}), LATER)
    assert sorted(cache.list_keys(), key=str) == sorted(keys, key=str)


@pytest.mark.parametrize(
    "item",
    [
        {"entry": {"S": "text"}, "expires_at": {"N": "9999999999"}},
        {"entry": {"B": b"MDH1abc"}},
        {"entry": {"B": b"MDH1abc"}, "expires_at": {"S": "soon"}},
        {"expires_at": {"N": "9999999999"}},
    ],
)
def test_malformed_items_are_misses(dynamodb_table: tuple[Any, str], item: dict[str, Any]) -> None:
    client, table = dynamodb_table
    client.put_item(TableName=table, Item={"pk": {"S": KEY.name}, **item})
    assert DynamoDBCache(client, table).load(KEY) is None


def test_missing_table_is_unavailable_with_the_hint(moto: MotoServer, tmp_path: Path) -> None:
    client = dynamodb_client(moto.url)
    cache = DynamoDBCache(client, "no-such-table")
    tiered = select("dynamodb", folder=tmp_path, dynamodb_client_factory=lambda: client, table="t")
    calls = [
        lambda: cache.load(KEY),
        lambda: cache.save(KEY, b"x", LATER),
        lambda: cache.delete(KEY),
        lambda: list(cache.list_keys()),
        lambda: cache.lock(KEY, 1).__enter__(),
        lambda: select(
            "dynamodb",
            folder=tmp_path,
            dynamodb_client_factory=lambda: client,
            table="t",
            local_copies=False,
        ),
        lambda: tiered.load(KEY),  # built lazily: the first request tells
        lambda: tiered.lock(KEY, 1).__enter__(),
    ]
    for call in calls:
        with pytest.raises(CacheUnavailable) as caught:
            call()
        assert HINT in str(caught.value)


@pytest.mark.timeout(60)
def test_unreachable_endpoint_is_unavailable_quickly(moto: MotoServer) -> None:
    client = dynamodb_client(
        f"http://127.0.0.1:{free_port()}",
        connect_timeout=1,
        read_timeout=1,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    cache = DynamoDBCache(client, "mdh-creds-cache")
    for call in (lambda: cache.load(KEY), lambda: cache.lock(KEY, 5).__enter__()):
        start = time.monotonic()
        with pytest.raises(CacheUnavailable, match="mdh-creds-cache") as caught:
            call()
        assert time.monotonic() - start < QUICK
        assert "not answer" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("ProvisionedThroughputExceededException", "throttling"),
        ("ThrottlingException", "throttling"),
        ("RequestLimitExceeded", "throttling"),
        ("AccessDeniedException", "refused access"),
        ("InternalServerError", "InternalServerError"),
    ],
)
def test_service_errors_are_unavailable(code: str, words: str) -> None:
    client = dynamodb_client("http://127.0.0.1:9")
    cache = DynamoDBCache(client, "the-table")
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        with pytest.raises(CacheUnavailable, match=words) as caught:
            cache.load(KEY)
    message = str(caught.value)
    assert "the-table" in message
    assert "\n" not in message


def test_missing_credentials_are_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9"
    )
    with pytest.raises(CacheUnavailable, match="no AWS credentials"):
        DynamoDBCache(client, "the-table").load(KEY)


def test_create_table_is_idempotent(moto: MotoServer) -> None:
    client = dynamodb_client(moto.url)
    assert create_table(client, "fresh-table") is True
    assert create_table(client, "fresh-table") is False
    ttl = client.describe_time_to_live(TableName="fresh-table")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    described = client.describe_table(TableName="fresh-table")["Table"]
    assert described["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_saved_item_shape(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    sealed = SEALER.seal(KEY, {"v": 1})
    DynamoDBCache(client, table).save(KEY, sealed, LATER)
    item = client.get_item(TableName=table, Key={"pk": {"S": KEY.name}})["Item"]
    assert item == {
        "pk": {"S": KEY.name},
        "entry": {"B": sealed},
        "expires_at": {"N": str(int(LATER.timestamp()))},
    }
