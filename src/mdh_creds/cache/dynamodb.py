"""A cache shared by many machines in one DynamoDB table, with leases for single flight.

Entries are items ``{"pk": key.name, "entry": <sealed bytes>, "expires_at": <Unix seconds>}``,
each written by one PutItem. ``expires_at`` is the table's TTL attribute; DynamoDB deletes late
(and moto never), so ``load`` checks it too.

Every item read is untrusted input (any machine with write access may have written it). An
entry is written only when the table holds none, an older one (an earlier ``expires_at``), or
exactly the item this process last read (it judged that one unusable: expired, sealed with a
rotated key, another profile's, malformed, or with a stored expiry that disagrees with its sealed
one, as a replayed older entry's does): a late writer never replaces newer credentials with older
ones, and no item can block the fleet from replacing it. The broker says what it found inside an
entry (``check``); an unsound item replaced is reported once (``repairs``). A refused write hands
back the stored item, which the local tier then keeps (``tiered``).

Single flight is a lease item per entry (``lease``): one conditional write to try, reads while
waiting, renewed while held.

The client is a boto3 low-level DynamoDB client built by the caller; every AWS failure becomes
``CacheUnavailable`` with a one-line reason naming the table.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from mdh_creds.cache.awserrors import (
    CONDITION_FAILED,
    aws_errors,
    error_code,
    unavailable,
)
from mdh_creds.cache.base import CacheBackend
from mdh_creds.cache.lease import LEASE_PREFIX, Leases, LeaseTiming, unchanged
from mdh_creds.cache.repairs import Repairs
from mdh_creds.cache.stored import CacheKey
from mdh_creds.clock import Clock, utc_now

__all__ = ["LEASE_PREFIX", "DynamoDBCache", "StoredItem", "create_table", "unavailable"]
_log = logging.getLogger(__name__)
#: The sealed bytes of an entry item and its expiry (Unix seconds, local clock).
StoredItem = tuple[bytes, float]


def _parse_item(item: dict[str, Any] | None) -> StoredItem | None:
    try:
        sealed = (item or {})["entry"]["B"]
        expires = float((item or {})["expires_at"]["N"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(sealed, (bytes, bytearray)) or not math.isfinite(expires):
        return None
    return bytes(sealed), expires


class DynamoDBCache(CacheBackend):
    """Sealed entries as items of one DynamoDB table; leases for single flight across machines."""

    name = "dynamodb"

    def __init__(
        self,
        client: Any,
        table: str,
        clock: Clock = utc_now,
        *,
        lease_seconds: float = LeaseTiming.seconds,
        poll_initial: float = LeaseTiming.poll_initial,
        poll_max: float = LeaseTiming.poll_max,
    ) -> None:
        self._client = client
        self.table = table
        self._clock = clock
        timing = LeaseTiming(lease_seconds, poll_initial, max(poll_max, poll_initial))
        self.repairs = Repairs(table)
        self._leases = Leases(client, table, clock, timing, self.repairs)
        self._errors = aws_errors()
        # entry name -> the item last read or written (its "entry" and "expires_at" attributes)
        self._seen: dict[str, dict[str, Any]] = {}

    @property
    def lease_seconds(self) -> float:
        return self._leases.timing.seconds

    @property
    def repaired(self) -> int:
        """Unsound items of the table this process replaced (``cache.repairs``)."""
        return self.repairs.count

    def __repr__(self) -> str:
        return f"DynamoDBCache(table={self.table!r})"

    def describe(self) -> str:
        region = getattr(getattr(self._client, "meta", None), "region_name", None) or "?"
        return f"DynamoDB table {self.table} ({region})"

    def probe(self) -> None:
        """One cheap read: ``CacheUnavailable`` if the table cannot be used from here."""
        self._request("get_item", Key=self._key(LEASE_PREFIX + "probe"))

    def load(self, key: CacheKey) -> bytes | None:
        found = self.load_item(key)
        return None if found is None else found[0]

    def load_item(self, key: CacheKey) -> StoredItem | None:
        """The live entry of ``key`` with its expiry (one consistent read), or ``None``."""
        reply = self._request("get_item", Key=self._key(key.name), ConsistentRead=True)
        item = reply.get("Item")
        if item is None:
            self._seen.pop(key.name, None)
            self.repairs.cleared(key.name)
            return None
        self._seen[key.name] = {k: item[k] for k in ("entry", "expires_at") if k in item}
        found = _parse_item(item)
        if found is None:
            self.repairs.found(key.name, "was malformed (no sealed entry or no expiry)")
            return None
        if self._clock().timestamp() >= found[1]:
            return None
        return found

    def expiry(self, key: CacheKey) -> float | None:
        """The stored expiry of ``key``'s item, expired or not (``None``: absent or malformed)."""
        reply = self._request("get_item", Key=self._key(key.name), ConsistentRead=True)
        found = _parse_item(reply.get("Item"))
        return None if found is None else found[1]

    def check(self, key: CacheKey, sealed_expiry: float | None) -> None:
        """What the broker found inside the entry it last read: its local expiry as sealed, or
        ``None`` when it did not open or parse. An item that does not open, or whose stored
        expiry disagrees with the sealed one, is unsound: the next write replaces it."""
        stored = _parse_item(self._seen.get(key.name))
        if stored is None:
            return
        if sealed_expiry is None:
            why = "did not open (another profile's, sealed with a rotated key, or altered)"
            self.repairs.found(key.name, why)
        elif abs(math.floor(sealed_expiry) - stored[1]) > 1:  # stored rounded down
            why = "had a stored expiry unlike its sealed one (an older entry replayed, or altered)"
            self.repairs.found(key.name, why)
        else:
            self.repairs.cleared(key.name)

    def save(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> None:
        self.store(key, sealed, expires_at)

    def store(self, key: CacheKey, sealed: bytes, expires_at: datetime) -> StoredItem | None:
        """Write the entry unless a newer one is stored. ``None`` when written (or when the
        refusing item could not be read back); else the stored entry, which stays."""
        expires = math.floor(expires_at.timestamp())
        written = {"entry": {"B": bytes(sealed)}, "expires_at": {"N": str(expires)}}
        try:
            self._client.put_item(
                TableName=self.table,
                Item={**self._key(key.name), **written},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **self._no_regression(key.name, expires),
            )
        except self._errors as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise unavailable(self.table, exc) from exc
            _log.debug("entry %s not replaced: the table holds a newer one", key.name)
            return _parse_item(getattr(exc, "response", {}).get("Item"))
        self.repairs.replaced(key.name)  # one warning, if what it replaced was unsound
        self._seen[key.name] = written
        return None

    def _no_regression(self, name: str, expires: int) -> dict[str, Any]:
        """The condition of an entry write: nothing stored, an older entry, or the very item
        this process last read (one it judged unusable)."""
        # A comparison only where the stored value is a number: an item whose expires_at is of
        # another type must not make the whole condition an error (moto answers 500).
        condition = (
            "attribute_not_exists(pk) OR (attribute_type(expires_at, :number) "
            "AND expires_at < :expires)"
        )
        values: dict[str, Any] = {":expires": {"N": str(expires)}, ":number": {"S": "N"}}
        seen = self._seen.get(name)
        if seen is None:
            return {"ConditionExpression": condition, "ExpressionAttributeValues": values}
        clause, names, more = unchanged(seen, ("entry", "expires_at"))
        return {
            "ConditionExpression": f"({clause}) OR {condition}",
            "ExpressionAttributeValues": {**values, **more},
            "ExpressionAttributeNames": names,
        }

    def delete(self, key: CacheKey) -> None:
        self._request("delete_item", Key=self._key(key.name))
        self._seen.pop(key.name, None)

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

    def lock(
        self, key: CacheKey, timeout: float, ready: Callable[[], bool] | None = None
    ) -> AbstractContextManager[None]:
        """The entry's lease (``lease.Leases.hold``): one conditional write to try, then reads
        of the entry through ``ready`` until it is fresh or the lease lapses."""
        return self._leases.hold(key.name, timeout, ready)

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
        if error_code(exc) != "ResourceInUseException":
            raise unavailable(table, exc) from exc
        created = False
    except aws_errors() as exc:
        raise unavailable(table, exc) from exc
    try:
        waiter = client.get_waiter("table_exists")
        waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        _enable_ttl(client, table)
    except aws_errors() as exc:
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
