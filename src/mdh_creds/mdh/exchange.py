"""The MDH exchange bound to one resolved account: what the broker calls (``broker.Exchange``)."""

from __future__ import annotations

from typing import Any

from mdh_creds.clock import Clock
from mdh_creds.mdh.account import Resolved
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.version import USER_AGENT


class BoundExchange:
    """The two MDH calls for one identity over one HTTP session (``broker.Exchange``)."""

    def __init__(self, resolved: Resolved, clock: Clock, http: Any = None) -> None:
        import requests

        from mdh_creds.mdh.client import MdhClient
        from mdh_creds.mdh.retry import Backoff

        s = resolved.settings
        self._resolved = resolved
        if http is None:
            http = requests.Session()
            # MDH's logs show the broker (DESIGN 7): mdh-creds/<version> before requests' own.
            agent = f"{USER_AGENT} {requests.utils.default_user_agent()}"
            http.headers["User-Agent"] = agent
        self.client = MdhClient(
            http,
            timeout=s.timeout,
            backoff=Backoff(s.retries, s.retry_interval_ms),
            clock=clock,
        )

    def fetch_access_token(self) -> AccessToken:
        r, s = self._resolved, self._resolved.settings
        return self.client.fetch_access_token(r.service_account, r.key, s.token_url, s.scope)

    def fetch_credentials(self, token: AccessToken) -> TemporaryCredentials:
        s = self._resolved.settings
        return self.client.fetch_credentials(token, self._resolved.exchange_url, s.project_code)
