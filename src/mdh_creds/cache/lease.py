"""DynamoDB leases: one exchange for a whole fleet, at a flat cost per machine, and no lease item
that any one machine can make last longer than a lease length.

A lease is the item ``pk = "lease#" + entry name`` with ``owner`` (random per acquisition),
``lease_until`` (precise Unix seconds on the writer's clock) and ``expires_at`` (whole seconds,
for TTL).

The time rule (DESIGN 5): a reader never believes a lease item for longer than one lease length
(``LeaseTiming.seconds``) on its own monotonic clock. An item is held while it keeps changing: each
version of it (owner and ``lease_until``) a reader sees is given ``min(lease length, lease_until -
reader's now)`` from when the reader first saw it; a holder's renewals are observed (a new version),
never believed from the value they write. A version unchanged for that long has lapsed, whatever it
says, and is replaced by a PutItem conditioned on that very version, so a renewal that lands first
wins. So a far-future ``lease_until`` (a holder's clock minutes fast, a planted item) costs at most
one lease length, as does an item with no or a malformed ``lease_until``; such a takeover is a
repair (``repairs``). An item that lapsed more than a lease length ago on the reader's clock (a
crashed holder's leftover) is taken at once.

* Take: ONE PutItem conditioned on the lease being absent, long lapsed, or the version seen
  lapsing. When the condition fails, DynamoDB hands back the holder's item
  (``ReturnValuesOnConditionCheckFailure``), so a waiter learns the version without a request.
* Wait with ``ready`` (the caller's "is a fresh entry stored now?"): poll the entry through it,
  reads only, with backoff and jitter, and return as soon as it says yes. The lease is read again
  only when the version seen would lapse, and taken over only if it has not changed since.
* Wait without ``ready``: read the lease item with backoff; take it once released or lapsed.
* Hold: a daemon thread renews the lease every third of its length with a PutItem conditioned on
  still owning it, so an exchange that outlasts one lease (retries) keeps it.
* Release: DeleteItem conditioned on still owning it. A holder that dies stops renewing, and
  its lease lapses one lease length after its last renewal was seen.
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
from mdh_creds.cache.repairs import Repairs
from mdh_creds.clock import Clock
from mdh_creds.errors import LockTimeout

LEASE_PREFIX = "lease#"
#: How long a lease lasts unless renewed (renewed every third of it while its holder runs), and
#: the longest any reader believes one lease item version.
LEASE_SECONDS = 10.0
_log = logging.getLogger(__name__)
Item = dict[str, Any]


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


def parse_until(item: Item | None) -> float | None:
    """``lease_until`` of a lease item, ``None`` when absent, malformed or not finite."""
    try:
        until = float((item or {})["lease_until"]["N"])
    except (KeyError, TypeError, ValueError):
        return None
    return until if math.isfinite(until) else None


def believed_for(until: float | None, now: float, seconds: float) -> float:
    """How long (s) a reader holds a lease version it sees now to be held: what its
    ``lease_until`` says is left, never more than one lease length ``seconds``; a version with
    no readable ``lease_until`` gets the whole lease length (the reader's bound, not the item's)."""
    if until is None:
        return seconds
    return min(seconds, max(0.0, until - now))


def overclaims(until: float | None, now: float, seconds: float) -> bool:
    """True for a version no honest holder on a clock like ours writes: no readable
    ``lease_until``, or one further away than a lease length (a clock ahead, a planted item)."""
    return until is None or until - now > seconds + 1.0


def _version(item: Item | None) -> tuple[str, str] | None:
    """What a renewal changes (owner and ``lease_until``, as stored): ``None`` when absent."""
    if item is None:
        return None
    return repr(item.get("owner")), repr(item.get("lease_until"))


class _Sighting:
    """One lease version as this reader saw it: the item and when (monotonic) it lapses."""

    def __init__(self, item: Item | None, lapses: float, overclaimed: bool) -> None:
        self.item, self.lapses, self.overclaimed = item, lapses, overclaimed


class Leases:
    """Takes, waits for, renews and releases the leases of one table."""

    def __init__(
        self,
        client: Any,
        table: str,
        clock: Clock,
        timing: LeaseTiming,
        repairs: Repairs | None = None,
    ) -> None:
        self._client, self.table, self._clock, self.timing = client, table, clock, timing
        self.repairs = repairs or Repairs(table)
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
        taken, held = self._take(lease, owner, None)
        if not taken and not self._wait(lease, owner, timeout, ready, held):
            yield  # a fresh entry is stored: the caller reads it, no lease needed
            return
        renewer = _Renewer(lambda: self._renew(lease, owner), self.timing.seconds / 3)
        try:
            yield
        finally:
            renewer.stop()
            self._release(lease, owner)

    def _sight(self, lease: str, item: Item | None, before: _Sighting | None) -> _Sighting:
        """The sighting of ``item``: the one before when it is the same version (its lapse time
        kept: an unchanged item is not a renewal), else a new one from now."""
        if before is not None and _version(item) == _version(before.item):
            return before
        until, now = parse_until(item), self._now()
        lapses = time.monotonic() + believed_for(until, now, self.timing.seconds)
        overclaimed = item is not None and overclaims(until, now, self.timing.seconds)
        if overclaimed:
            ahead = "no readable lease_until" if until is None else f"{until - now:.0f} s ahead"
            self.repairs.found(lease, f"claimed to be held far too long ({ahead})")
        else:
            self.repairs.cleared(lease)
        return _Sighting(item, lapses, overclaimed)

    def _take(self, lease: str, owner: str, seen: _Sighting | None) -> tuple[bool, Item | None]:
        """One conditional PutItem: ``(True, None)``, or ``(False, the holder's item)``. It takes
        an absent lease, one lapsed more than a lease length ago on this clock, or exactly the
        version ``seen`` (which this reader judged lapsed)."""
        now = self._now()
        condition = (  # compared only where it is a number (a planted item may hold text)
            "attribute_not_exists(pk) OR (attribute_type(lease_until, :number) "
            "AND lease_until < :stale)"
        )
        stale = f"{now - self.timing.seconds:.3f}"
        values: dict[str, Any] = {":stale": {"N": stale}, ":number": {"S": "N"}}
        names: dict[str, str] = {}
        if seen is not None and seen.item is not None:
            clause, names, more = unchanged(seen.item, ("owner", "lease_until"))
            condition, values = f"({clause}) OR {condition}", {**values, **more}
        failed = self._put(lease, owner, now, condition=condition, values=values, names=names)
        if failed is None:
            if seen is not None and seen.overclaimed:
                self.repairs.replaced(lease)  # one warning naming it
            return True, None
        return False, failed or self._read(lease)

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
    ) -> Item | None:
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
            stored: Item = getattr(exc, "response", {}).get("Item") or {}
            return stored
        return None

    def _read(self, lease: str) -> Item | None:
        """The stored lease item (one consistent read), ``None`` when there is none."""
        try:
            reply = self._client.get_item(
                TableName=self.table, Key={"pk": {"S": lease}}, ConsistentRead=True
            )
        except self._errors as exc:
            raise unavailable(self.table, exc) from exc
        found: Item | None = reply.get("Item")
        return found

    def _wait(
        self,
        lease: str,
        owner: str,
        timeout: float,
        ready: Callable[[], bool] | None,
        held: Item | None,
    ) -> bool:
        """Wait for the entry (``False``) or the lease (``True``); ``LockTimeout`` at the end."""
        started = time.monotonic()
        deadline, delay = started + max(0.0, timeout), self.timing.poll_initial
        seen = self._sight(lease, held, None)
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(remaining, self._pause(delay, seen.lapses)))
            if ready is not None and ready():
                self._note("lease wait", lease, started, "a fresh entry appeared")
                return False
            if ready is None or time.monotonic() >= seen.lapses:
                seen = self._sight(lease, self._read(lease), seen)
                if seen.item is None or time.monotonic() >= seen.lapses:
                    taken, held = self._take(lease, owner, seen)
                    if taken:
                        self._note("takeover", lease, started, "released or lapsed; taken")
                        return True
                    seen = self._sight(lease, held, seen)
            delay = min(delay * self.timing.poll_growth, self.timing.poll_max)
        raise LockTimeout(
            f"lease {lease} in DynamoDB table {self.table} not acquired within {timeout:g}s: "
            f"another mdh-creds process holds it; retry (a lease lapses "
            f"{self.timing.seconds:g}s after its holder stops renewing it)"
        )

    def _pause(self, delay: float, lapses: float) -> float:
        """Jittered backoff, cut short when the version seen lapses sooner."""
        pause = random.uniform(delay / 2, delay)
        return min(pause, max(0.0, lapses - time.monotonic()) + 0.01)

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


def unchanged(
    item: Item, attributes: tuple[str, ...]
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A condition that holds only while ``attributes`` of the item are still as in ``item`` (a
    missing one still missing): ``(expression, names, values)``. The lease's takeover and the
    entry's repair both write on this condition."""
    parts, names, values = [], {}, {}
    for n, attribute in enumerate(attributes):
        names[f"#u{n}"] = attribute
        if attribute in item:
            parts.append(f"#u{n} = :u{n}")
            values[f":u{n}"] = item[attribute]
        else:
            parts.append(f"attribute_not_exists(#u{n})")
    return " AND ".join(parts), names, values


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
