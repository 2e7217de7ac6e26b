"""A cache shared by many machines in one DynamoDB table, with leases for single flight.

Entries are items ``{"pk": key.name, "entry": <sealed bytes>, "expires_at": <Unix seconds>}``,
each written by one PutItem. ``expires_at`` is the table's TTL attribute; DynamoDB deletes late
(and moto never), so ``load`` checks it too.

A lease is the item ``pk = "lease#" + key.name`` with ``owner`` (random per acquisition),
``lease_until`` (precise Unix seconds, what the condition compares) and ``expires_at`` (whole
seconds, for TTL). It is taken by a PutItem conditioned on the lease being absent or lapsed,
polled with exponential backoff and jitter, and released by a DeleteItem conditioned on still
owning it. A holder that dies loses the lease after ``lease_seconds``.

The client is a boto3 low-level DynamoDB client built by the caller; every AWS failure becomes
``CacheUnavailable`` with a one-line reason naming the table.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from mdh_creds.clock import Clock, utc_now
from mdh_creds.errors import CacheUnavailable, LockTimeout
from mdh_creds.models import CacheKey

LEASE_PREFIX = "lease#"
_log = logging.getLogger(__name__)
_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
}
_CREATE_HINT = "create it with `mdh-creds configure --create-table` or set mdh_dynamodb_table"


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def unavailable(table: str, exc: BaseException) -> CacheUnavailable:
    """The one-line ``CacheUnavailable`` for an AWS failure on ``table``."""
    code = _error_code(exc)
    if code == "ResourceNotFoundException":
        return CacheUnavailable(f"DynamoDB table {table} not found: {_CREATE_HINT}")
    return CacheUnavailable(f"DynamoDB table {table} {_reason(code, exc)}")


def _reason(code: str, exc: BaseException) -> str:
    from botocore import exceptions as boto

    if code in _THROTTLED:
        reason = f"is throttling requests ({code}); retry later"
    elif code in _DENIED:
        reason = f"refused access ({code}): check the AWS credentials and IAM policy"
    elif code:
        reason = f"failed a request ({code})"
    elif isinstance(exc, boto.NoCredentialsError):
        reason = "cannot be reached: no AWS credentials found"
    elif isinstance(exc, (boto.EndpointConnectionError, boto.ConnectTimeoutError)):
        reason = "cannot be reached: the DynamoDB endpoint does not answer"
    elif isinstance(exc, boto.ReadTimeoutError):
        reason = "cannot be reached: the DynamoDB endpoint timed out"
    else:
        reason = f"is not usable ({type(exc).__name__})"
    return reason


def _aws_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


class DynamoDBCache:
    """Sealed entries as items of one DynamoDB table; leases for single flight across machines."""

    name = "dynamodb"

    def __init__(
        self,
        client: Any,
        table: str,
        clock: Clock = utc_now,
        *,
        lease_seconds: float = 60.0,
        poll_initial: float = 0.05,
        poll_max: float = 1.0,
    ) -> None:
        self._client = client
        self.table = table
        self._clock = clock
        self.lease_seconds = lease_seconds
        self._poll_initial = poll_initial
        self._poll_max = max(poll_max, poll_initial)
        self._errors = _aws_errors()

    def __repr__(self) -> str:
        return f"DynamoDBCache(table={self.table!r})"

    def describe(self) -> str:
        region = getattr(getattr(self._client, "meta", None), "region_name", None) or "?"
        return f"DynamoDB table {self.table} ({region})"

    def probe(self) -> None:
        """One cheap read: ``CacheUnavailable`` if the table cannot be used from here."""
        self._request("get_item", Key=self._key(LEASE_PREFIX + "probe"))

    def load(self, key: CacheKey) -> bytes | None:
        reply = self._request("get_item", Key=self._key(key.name), ConsistentRead=True)
        item = reply.get("Item") or {}
        try:
            sealed = item["entry"]["B"]
            expires = float(item["expires_at"]["N"])
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(sealed, (bytes, bytearray)) or _epoch(self._clock()) >= expires:
            return None
        return bytes(sealed)

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        item = {
            **self._key(key.name),
            "entry": {"B": bytes(sealed)},
            "expires_at": {"N": str(math.floor(_epoch(expires_at)))},
        }
        self._request("put_item", Item=item)

    def delete(self, key: CacheKey) -> None:
        self._request("delete_item", Key=self._key(key.name))

    def list_keys(self) -> Iterator[CacheKey]:
        """Every entry item present (leases skipped), expired or not yet removed by TTL."""
        keys: list[CacheKey] = []
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self._request("scan", ProjectionExpression="pk", **extra)
            for item in page.get("Items", []):
                found = CacheKey.parse_name(str(item.get("pk", {}).get("S", "")))
                if found is not None:
                    keys.append(found)
            start = page.get("LastEvaluatedKey")
            if not start:
                return iter(keys)

    @contextmanager
    def lock(self, key: CacheKey, timeout: float) -> Iterator[None]:
        lease = LEASE_PREFIX + key.name
        owner = uuid.uuid4().hex
        self._acquire(lease, owner, timeout)
        try:
            yield
        finally:
            self._release(lease, owner)

    def _acquire(self, lease: str, owner: str, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        delay = self._poll_initial
        while not self._try_lease(lease, owner):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"lease {lease} in DynamoDB table {self.table} not acquired within "
                    f"{timeout:g}s: another mdh-creds process holds it; retry (a lease "
                    f"lapses {self.lease_seconds:g}s after it was taken)"
                )
            time.sleep(min(remaining, random.uniform(delay / 2, delay)))
            delay = min(delay * 2, self._poll_max)

    def _try_lease(self, lease: str, owner: str) -> bool:
        from botocore.exceptions import ClientError

        now = self._clock()
        until = now + timedelta(seconds=self.lease_seconds)
        item = {
            **self._key(lease),
            "owner": {"S": owner},
            "lease_until": {"N": f"{_epoch(until):.3f}"},
            "expires_at": {"N": str(math.ceil(_epoch(until)))},
        }
        try:
            self._client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
                ExpressionAttributeValues={":now": {"N": f"{_epoch(now):.3f}"}},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise unavailable(self.table, exc) from exc
        except self._errors as exc:
            raise unavailable(self.table, exc) from exc
        return True

    def _release(self, lease: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self.table,
                Key=self._key(lease),
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except self._errors as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                _log.warning("lease %s not released (%s); it lapses by itself", lease, exc)

    def _request(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = getattr(self._client, operation)(TableName=self.table, **params)
        except self._errors as exc:
            raise unavailable(self.table, exc) from exc
        return reply

    @staticmethod
    def _key(name: str) -> dict[str, Any]:
        return {"pk": {"S": name}}


def create_table(client: Any, table: str) -> bool:
    """Create the cache table (on-demand, TTL on ``expires_at``); ``False`` if it existed.

    Waits until the table is ACTIVE. Safe to run again: an existing table and TTL are kept.
    """
    from botocore.exceptions import ClientError

    created = True
    try:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise unavailable(table, exc) from exc
        created = False
    except _aws_errors() as exc:
        raise unavailable(table, exc) from exc
    try:
        waiter = client.get_waiter("table_exists")
        waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        _enable_ttl(client, table)
    except _aws_errors() as exc:
        raise unavailable(table, exc) from exc
    return created


def _enable_ttl(client: Any, table: str) -> None:
    from botocore.exceptions import ClientError

    current = client.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    try:
        client.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    except ClientError as exc:
        if "already enabled" not in str(exc).lower():
            raise
