"""What the broker works by: its policy, the windows, and the Protocols it consumes (the MDH
exchange, a source of AWS credentials, the secret read again). Imported from
``mdh_creds.broker``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

from mdh_creds.errors import ConfigError
from mdh_creds.models import AccessToken, TemporaryCredentials

if TYPE_CHECKING:
    from mdh_creds.crypto import Sealer

TOKEN_WINDOW = timedelta(seconds=60)
Entry = TypeVar("Entry", AccessToken, TemporaryCredentials)


class Exchange(Protocol):
    """The two MDH calls, bound to one identity (``mdh.py`` through the factory)."""

    def fetch_access_token(self) -> AccessToken: ...

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials: ...


class Source(Protocol):
    """AWS credentials got with no MDH token: a role assumed on another profile's credentials,
    the output of a wrapped ``credential_process``. Its failures are ``ExchangeError``s, so a
    stale entry is served through them as through a failed exchange."""

    def fetch_credentials(self) -> TemporaryCredentials: ...


#: Reads the account's secret again: a new exchange factory and sealer when it holds another key
#: (rotated), else ``None``.
Reload = Callable[[], "tuple[Callable[[], Exchange], Sealer] | None"]


@dataclass(frozen=True)
class Policy:
    """How the broker judges and waits."""

    refresh_window: timedelta = timedelta(seconds=1200)
    lock_timeout: float = 60.0
    force_refresh: bool = False
    # Credentials with a longer lifetime are refreshed once this much is left, whatever the
    # window (``freshness.SDK_MIN_LEFT`` for what is handed to an SDK: process, the endpoint).
    min_left: timedelta = timedelta(0)


def no_exchange() -> Exchange:
    """The exchange of a broker on a source (``on_source``): it has none to call."""
    raise ConfigError(
        "a role profile holds AWS credentials only: ask its mdh profile for the MDH access token"
    )
