"""The exchange bound to one resolved account: what the broker calls (``broker.Exchange``).

``BoundExchange`` speaks for a service account (assertion, then explorer credentials);
``ClientSecretExchange`` for an API client of the client-secret grant (an access token only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdh_creds.clock import Clock
from mdh_creds.errors import ConfigError
from mdh_creds.mdh.account import ClientAccount, Resolved, token_only_message
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.settings.model import Settings
from mdh_creds.version import USER_AGENT

if TYPE_CHECKING:
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
    """The two MDH calls for one identity over one HTTP session (``broker.Exchange``)."""

    def __init__(self, resolved: Resolved, clock: Clock, http: Any = None) -> None:
        self._resolved = resolved
        self.client = _client(resolved.settings, clock, http)

    def fetch_access_token(self) -> AccessToken:
        r, s = self._resolved, self._resolved.settings
        return self.client.fetch_access_token(r.service_account, r.key, s.token_url, s.scope)

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials:
        r = self._resolved
        return self.client.fetch_credentials(
            token, r.exchange_url, r.settings.project_code, sent=r.project_sent
        )


class ClientSecretExchange:
    """The client-secret token call for one API client (``broker.Exchange``); it has no AWS
    credentials to give (the broker refuses before asking)."""

    def __init__(self, account: ClientAccount, clock: Clock, http: Any = None) -> None:
        self._account = account
        self.client = _client(account.settings, clock, http)

    def fetch_access_token(self) -> AccessToken:
        a, s = self._account, self._account.settings
        return self.client.fetch_client_token(
            a.client_id, a.client_secret, s.token_url, s.scope, s.client_auth
        )

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials:
        del token
        raise ConfigError(token_only_message(self._account.settings))
