"""The DynamoDB backend against moto: leases, missing table, unreachable endpoint, error mapping."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from mdh_creds.cache import select
from mdh_creds.cache.dynamodb import LEASE_PREFIX, DynamoDBCache, create_table
from mdh_creds.crypto import Sealer
from mdh_creds.errors import CacheUnavailable, LockTimeout
from mdh_creds.models import CacheKey
from servers import MotoServer, dynamodb_client, free_port

SEALER = Sealer(b"dynamodb test key material")
KEY = CacheKey.for_identity({"account": "alpha"}, "credentials")
LATER = datetime.now(timezone.utc) + timedelta(hours=1)
HINT = "create it with `mdh-creds configure --create-table` or set mdh_dynamodb_table"
QUICK = 5.0


def _lease(client: Any, table: str) -> dict[str, Any] | None:
    reply = client.get_item(TableName=table, Key={"pk": {"S": LEASE_PREFIX + KEY.name}})
    item: dict[str, Any] | None = reply.get("Item")
    return item


@pytest.mark.timeout(30)
def test_lease_of_a_vanished_holder_is_taken_over(dynamodb_table: tuple[Any, str]) -> None:
    client, table = dynamodb_table
    holder = DynamoDBCache(client, table, lease_seconds=1)
    abandoned = holder.lock(KEY, 1)
    abandoned.__enter__()
    first_owner = _lease(client, table)
    assert first_owner is not None
    other = DynamoDBCache(client, table, lease_seconds=30, poll_initial=0.05, poll_max=0.2)
    with pytest.raises(LockTimeout, match=table), other.lock(KEY, 0.3):
        pass
    start = time.monotonic()
    with other.lock(KEY, 10):
        elapsed = time.monotonic() - start
        taken = _lease(client, table)
        assert taken is not None
        assert taken["owner"] != first_owner["owner"]
        abandoned.__exit__(None, None, None)
        assert _lease(client, table) == taken
    assert 0.3 <= elapsed < 1 + QUICK
    assert _lease(client, table) is None


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


def test_missing_table_is_unavailable_with_the_hint(moto: MotoServer) -> None:
    client = dynamodb_client(moto.url)
    cache = DynamoDBCache(client, "no-such-table")
    calls = [
        lambda: cache.load(KEY),
        lambda: cache.save(KEY, b"x", LATER),
        lambda: cache.delete(KEY),
        lambda: list(cache.list_keys()),
        lambda: cache.lock(KEY, 1).__enter__(),
        lambda: select("dynamodb", folder=None, dynamodb_client_factory=lambda: client, table="t"),  # type: ignore[arg-type]
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
