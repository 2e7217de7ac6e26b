"""The account's exchange, built when first needed, and built again with the new key when MDH
refuses the one read from the secret and the secret holds another (rotated since it was read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mdh_creds.brokering.terms import Entry, Exchange, Reload
from mdh_creds.crypto import Sealer
from mdh_creds.errors import ExchangeRejected, MdhCredsError


class Rotation:
    """The exchange ``factory`` builds; ``reload`` reads the secret again (``None``: the key is
    not read from a secret); ``rekey`` hands a new key's sealer to the store; ``log`` is the
    broker's logger."""

    def __init__(
        self,
        factory: Callable[[], Exchange],
        reload: Reload | None,
        rekey: Callable[[Sealer], None],
        log: logging.Logger,
    ) -> None:
        self._factory = factory
        self._built: Exchange | None = None
        self._reload, self._rekey, self._log = reload, rekey, log

    def exchange(self) -> Exchange:
        if self._built is None:
            self._built = self._factory()
        return self._built

    def fetch(self, fetch: Callable[[], Entry]) -> Entry:
        """``fetch``; when MDH refuses it, the secret is read again once, and if it holds a new
        key (rotated since it was read), ``fetch`` runs once more with it."""
        try:
            return fetch()
        except ExchangeRejected:
            if not self._reloaded():
                raise
        return fetch()

    def _reloaded(self) -> bool:
        """Read the account's secret again; ``True`` when it held a new key, now in use."""
        if self._reload is None:
            return False
        try:
            renewed = self._reload()
        except MdhCredsError as exc:
            self._log.debug("the secret could not be read again: %s", exc)
            return False
        if renewed is None:
            return False
        self._factory, self._built = renewed[0], None
        self._rekey(renewed[1])
        self._log.info(
            "MDH refused the key read from the secret; the secret holds a new one: retrying",
            extra={"event": "rotation"},
        )
        return True
