"""The exchange bound to one account: what the broker calls (``broker.Exchange``). Each account
class of ``mdh.account`` builds its own (``ServiceAccount.exchange``, ``ClientAccount.exchange``).

``BoundExchange`` speaks for a service account (assertion, then explorer credentials);
``ClientSecretExchange`` for an API client of the client-secret grant (an access token only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdh_creds.clock import Clock
from mdh_creds.errors import ConfigError
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.settings.model import Settings
from mdh_creds.version import USER_AGENT

if TYPE_CHECKING:
    from mdh_creds.mdh.assertion import Signer
    from mdh_creds.mdh.client import MdhClient


def _client(settings: Settings, clock: Clock, http: Any) -> MdhClient:
    import requests

    from mdh_creds.mdh.client import MdhClient
    from mdh_creds.mdh.retry import Backoff

    if http is None:
        http = requests.Session()
        # MDH's logs show the broker (DESIGN 7): mdh-creds/<version> before requests' own.
        http.headers["User-Agent"] = f"{USER_AGENT} {requests.utils.default_user_agent()}"
    return MdhClient(
        http,
        timeout=settings.timeout,
        backoff=Backoff(settings.retries, settings.retry_interval_ms),
        clock=clock,
        ca_bundle=settings.ca_bundle,
    )


class BoundExchange:
    """The two MDH calls for one service account over one HTTP session (``broker.Exchange``);
    ``sign`` signs its assertions (a key in memory or KMS); ``sent`` names the project sent,
    for messages."""

    def __init__(
        self,
        settings: Settings,
        *,
        service_account: str,
        sign: Signer,
        exchange_url: str,
        sent: str,
        clock: Clock,
        http: Any = None,
    ) -> None:
        self._settings, self._account, self._sign = settings, service_account, sign
        self._exchange_url, self._sent = exchange_url, sent
        self.client = _client(settings, clock, http)

    def fetch_access_token(self) -> AccessToken:
        s = self._settings
        return self.client.fetch_access_token(self._account, self._sign, s.token_url, s.scope)

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials:
        return self.client.fetch_credentials(
            token, self._exchange_url, self._settings.project_code, sent=self._sent
        )


class ClientSecretExchange:
    """The client-secret token call for one API client (``broker.Exchange``); it has no AWS
    credentials to give (the broker refuses with ``refusal`` before asking)."""

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str,
        client_secret: str,
        refusal: str,
        clock: Clock,
        http: Any = None,
    ) -> None:
        self._settings, self._id, self._secret = settings, client_id, client_secret
        self._refusal = refusal
        self.client = _client(settings, clock, http)

    def __repr__(self) -> str:
        return f"ClientSecretExchange(client_id={self._id!r})"

    def fetch_access_token(self) -> AccessToken:
        s = self._settings
        return self.client.fetch_client_token(
            self._id, self._secret, s.token_url, s.scope, s.client_auth
        )

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials:
        del token
        raise ConfigError(self._refusal)
