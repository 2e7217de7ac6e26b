"""Items of the shared table found unsound and replaced: one warning naming each, and a count.

Any machine with write access to the table can leave an item no reader should believe: a lease
that never lapses, an entry that does not parse or open, one whose stored expiry disagrees with its
sealed one. Readers replace such an item under the same conditional-write rules as an expired one;
the one that replaces it says so here, once, and the Lambda handler reports the count (its status
``repaired``, the ``Repaired`` metric) so an operator can alarm on a table that keeps needing it.
"""

from __future__ import annotations

import logging

_log = logging.getLogger(__name__)


class Repairs:
    """What this process found unsound in one table (by item name) and what it replaced."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.count = 0  # items replaced by this process (read by the Lambda handler)
        self._found: dict[str, str] = {}  # item name -> why it is unsound

    def found(self, name: str, reason: str) -> None:
        """``name`` was read and is unsound: the next conditional write may replace it."""
        if self._found.get(name) != reason:
            _log.debug("DynamoDB table %s: %s is unsound (%s)", self.table, name, reason)
        self._found[name] = reason

    def cleared(self, name: str) -> None:
        """``name`` was read again and is sound (or gone): nothing to report."""
        self._found.pop(name, None)

    def pending(self, name: str) -> bool:
        return name in self._found

    def replaced(self, name: str) -> None:
        """A write of ours replaced ``name``: one warning naming it, if it was unsound."""
        reason = self._found.pop(name, None)
        if reason is None:
            return
        self.count += 1
        _log.warning(
            "DynamoDB table %s: replaced %s, which %s",
            self.table,
            name,
            reason,
            extra={"event": "repair", "backend": "dynamodb", "item": name},
        )
