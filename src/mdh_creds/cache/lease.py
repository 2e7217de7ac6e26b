"""DynamoDB leases: one exchange for a whole fleet, at a flat cost per machine.

A lease is the item ``pk = "lease#" + entry name`` with ``owner`` (random per acquisition),
``lease_until`` (precise Unix seconds, what the conditions compare) and ``expires_at`` (whole
seconds, for TTL).

* Take: ONE PutItem conditioned on the lease being absent or lapsed. When the condition fails,
  DynamoDB hands back the holder's item (``ReturnValuesOnConditionCheckFailure``), so a waiter
  learns when the lease lapses without another request.
* Wait with ``ready`` (the caller's "is a fresh entry stored now?"): poll the entry through it,
  reads only, with backoff and jitter, and return as soon as it says yes. The lease is read again
  only once its known lapse time has passed, and taken over only if it has lapsed or is gone.
* Wait without ``ready``: read the lease item with backoff; take it once released or lapsed.
* Hold: a daemon thread renews the lease every third of its length with a PutItem conditioned on
  still owning it, so an exchange that outlasts one lease (retries) keeps it.
* Release: DeleteItem conditioned on still owning it. A holder that dies stops renewing, and
  its lease lapses after ``LeaseTiming.seconds``.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mdh_creds.cache.awserrors import CONDITION_FAILED, aws_errors, error_code, unavailable
from mdh_creds.clock import Clock
from mdh_creds.errors import LockTimeout

LEASE_PREFIX = "lease#"
#: How long a lease lasts unless renewed (renewed every third of it while its holder runs).
LEASE_SECONDS = 10.0
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseTiming:
    """How long a lease lasts unrenewed, and how waiters pace their reads."""

    seconds: float = LEASE_SECONDS
    # A waiter's reads of the entry: jittered sleeps growing threefold from 0.5 s to 4 s (about
    # 0.4, 1.5, 4.5 s after its try) find an exchange of 1 s in 2 reads and one of 4 s (a
    # starved machine) in 3, at most one sleep after it is stored.
    poll_initial: float = 0.5
    poll_max: float = 4.0
    poll_growth: float = 3.0


def _until(item: dict[str, Any] | None) -> float | None:
    """``lease_until`` of a lease item, ``None`` when absent or malformed."""
    try:
        return float((item or {})["lease_until"]["N"])
    except (KeyError, TypeError, ValueError):
        return None


class Leases:
    """Takes, waits for, renews and releases the leases of one table."""

    def __init__(self, client: Any, table: str, clock: Clock, timing: LeaseTiming) -> None:
        self._client, self.table, self._clock, self.timing = client, table, clock, timing
        self._errors = aws_errors()

    def _now(self) -> float:
        return self._clock().timestamp()

    @contextmanager
    def hold(
        self, name: str, timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        """Hold the lease of entry ``name`` for the block, or enter it without the lease as soon
        as ``ready()`` is true. ``LockTimeout`` when neither happens within ``timeout`` s."""
        lease, owner = LEASE_PREFIX + name, uuid.uuid4().hex
        taken, until = self._take(lease, owner)
        if not taken and not self._wait(lease, owner, timeout, ready, until):
            yield  # a fresh entry is stored: the caller reads it, no lease needed
            return
        renewer = _Renewer(lambda: self._renew(lease, owner), self.timing.seconds / 3)
        try:
            yield
        finally:
            renewer.stop()
            self._release(lease, owner)

    def _take(self, lease: str, owner: str) -> tuple[bool, float | None]:
        """One conditional PutItem: ``(True, None)``, or ``(False, the holder's lease_until)``."""
        now = self._now()
        failed = self._put(
            lease,
            owner,
            now,
            condition="attribute_not_exists(pk) OR lease_until < :now",
            values={":now": {"N": f"{now:.3f}"}},
        )
        if failed is None:
            return True, None
        return False, _until(failed) if failed else self._read_until(lease)

    def _renew(self, lease: str, owner: str) -> bool:
        """Extend a held lease; ``False`` once it is no longer ours (stop renewing)."""
        try:
            failed = self._put(
                lease,
                owner,
                self._now(),
                condition="#owner = :me",
                values={":me": {"S": owner}},
                names={"#owner": "owner"},
            )
        except Exception as exc:  # a missed renewal is retried; the lease outlasts two
            _log.debug("lease %s not renewed this time (%s)", lease, exc)
            return True
        if failed is not None:
            _log.warning("lease %s was taken over while this process held it", lease)
            return False
        _log.debug("lease %s renewed", lease)
        return True

    def _put(
        self,
        lease: str,
        owner: str,
        now: float,
        *,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """A conditional PutItem of the lease: ``None`` when written, else the stored item
        (``{}`` when DynamoDB did not return it)."""
        until = now + self.timing.seconds
        item = {
            "pk": {"S": lease},
            "owner": {"S": owner},
            "lease_until": {"N": f"{until:.3f}"},
            "expires_at": {"N": str(math.ceil(until))},
        }
        extra = {"ExpressionAttributeNames": names} if names else {}
        try:
            self._client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **extra,
            )
        except self._errors as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise unavailable(self.table, exc) from exc
            stored: dict[str, Any] = getattr(exc, "response", {}).get("Item") or {}
            return stored
        return None

    def _read_until(self, lease: str) -> float | None:
        """The stored lease's ``lease_until`` (one read), ``None`` when there is none."""
        try:
            reply = self._client.get_item(
                TableName=self.table, Key={"pk": {"S": lease}}, ConsistentRead=True
            )
        except self._errors as exc:
            raise unavailable(self.table, exc) from exc
        return _until(reply.get("Item"))

    def _wait(
        self,
        lease: str,
        owner: str,
        timeout: float,
        ready: Callable[[], bool] | None,
        until: float | None,
    ) -> bool:
        """Wait for the entry (``False``) or the lease (``True``); ``LockTimeout`` at the end."""
        started = time.monotonic()
        deadline, delay = started + max(0.0, timeout), self.timing.poll_initial
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(remaining, self._pause(delay, until)))
            if ready is not None and ready():
                self._note("lease wait", lease, started, "a fresh entry appeared")
                return False
            if ready is None or until is None or self._now() >= until:
                until = self._read_until(lease)
                if until is None or self._now() >= until:
                    taken, until = self._take(lease, owner)
                    if taken:
                        self._note("takeover", lease, started, "released or lapsed; taken")
                        return True
            delay = min(delay * self.timing.poll_growth, self.timing.poll_max)
        raise LockTimeout(
            f"lease {lease} in DynamoDB table {self.table} not acquired within {timeout:g}s: "
            f"another mdh-creds process holds it; retry (a lease lapses "
            f"{self.timing.seconds:g}s after its holder stops renewing it)"
        )

    def _pause(self, delay: float, until: float | None) -> float:
        """Jittered backoff, cut short when the known lease lapses sooner."""
        pause = random.uniform(delay / 2, delay)
        if until is not None:
            pause = min(pause, max(0.0, until - self._now()) + 0.01)
        return pause

    def _note(self, event: str, lease: str, started: float, what: str) -> None:
        seconds = round(time.monotonic() - started, 3)
        _log.info(
            "%s: lease %s %s after %.3f s",
            event,
            lease,
            what,
            seconds,
            extra={"event": event, "backend": "dynamodb", "seconds": seconds},
        )

    def _release(self, lease: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self.table,
                Key={"pk": {"S": lease}},
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except self._errors as exc:
            if error_code(exc) != CONDITION_FAILED:
                _log.warning("lease %s not released (%s); it lapses by itself", lease, exc)


class _Renewer:
    """A daemon thread calling ``renew`` every ``interval`` s until stopped or it says stop."""

    def __init__(self, renew: Callable[[], bool], interval: float) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(renew, interval), name="mdh-creds-lease", daemon=True
        )
        self._thread.start()

    def _run(self, renew: Callable[[], bool], interval: float) -> None:
        while not self._stopped.wait(interval):
            if not renew():
                return

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
