"""The MDH exchange over an injected ``requests.Session``: assertion, access token, credentials.

1. A JWT assertion (RS256, ``typ: JWT``, iss = sub = account, aud = token URL, 5-minute life,
   fresh ``jti``) is traded for an access token (client credentials, RFC 7523).
2. The token (raw, no "Bearer") is traded at the explorer endpoint for AWS credentials.
Or, for an API client: a client id and secret are traded for an access token (RFC 6749 4.4).
Every answer is validated before use; the server's ``Date`` header gives the clock skew.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

import jwt

from mdh_creds.clock import Clock, utc_now
from mdh_creds.errors import ExchangeRejected, ExchangeUnavailable
from mdh_creds.mdh.answers import parse_credentials_answer, parse_token_answer
from mdh_creds.mdh.client_secret import INVALID_CLIENT_HINT, client_request
from mdh_creds.mdh.keys import PrivateKey, load_signing_key
from mdh_creds.mdh.retry import Backoff, call_with_retries, is_retryable_status, parse_retry_after
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.redact import register_secret

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
ASSERTION_LIFETIME = 300
SKEW_WARNING = timedelta(minutes=5)
_log = logging.getLogger(__name__)
_INVALID_CLIENT_HINT = (
    "MDH rejected the service account (invalid_client): check mdh_service_account, that the "
    "private key belongs to it, the clock (skew over 5 minutes fails), and the mdh_token_url host"
)


class MdhClient:
    """Speaks the two MDH endpoints; retries are applied here, per request."""

    def __init__(
        self,
        http: requests.Session,
        *,
        timeout: float,
        backoff: Backoff,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._http, self._timeout, self._backoff, self._clock = http, timeout, backoff, clock
        self._sleep = sleep
        self.last_skew = timedelta(0)

    def fetch_access_token(
        self, account: str, key: PrivateKey, token_url: str, scope: str
    ) -> AccessToken:
        signing_key = load_signing_key(key)

        def attempt() -> AccessToken:
            form = {
                "scope": scope,
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._assertion(account, signing_key, token_url),
            }
            answer, skew = self._post(token_url, "token", data=form)
            token = parse_token_answer(answer, self._clock() + skew, skew)
            register_secret(token.value)
            return token

        return self._retrying(attempt)

    def fetch_client_token(
        self, client_id: str, client_secret: str, token_url: str, scope: str, method: str
    ) -> AccessToken:
        """An access token for a client id and secret (``method``: ``basic`` or ``post``)."""
        form, auth = client_request(client_id, client_secret, scope, method)

        def attempt() -> AccessToken:
            answer, skew = self._post(token_url, "token", INVALID_CLIENT_HINT, data=form, auth=auth)
            token = parse_token_answer(answer, self._clock() + skew, skew)
            register_secret(token.value)
            return token

        return self._retrying(attempt)

    def fetch_credentials(
        self,
        token: AccessToken,
        exchange_url: str,
        project_code: str | None,
        *,
        sent: str | None = None,
    ) -> TemporaryCredentials:
        """``sent`` names the project sent and where it came from, for a 403's message."""
        headers = {
            "Authorization": token.value,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if project_code:
            headers["ProjectCode"] = project_code

        def attempt() -> TemporaryCredentials:
            answer, skew = self._post(exchange_url, "explorer", sent=sent, headers=headers)
            creds = parse_credentials_answer(answer, self._clock() + skew, skew)
            register_secret(creds.secret_access_key, creds.session_token)
            return creds

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], T]) -> T:
        if self._sleep is None:
            return call_with_retries(attempt, self._backoff)
        return call_with_retries(attempt, self._backoff, self._sleep)

    def _assertion(self, account: str, signing_key: Any, token_url: str) -> str:
        now = int(self._clock().timestamp())
        claims = {
            "iss": account,
            "sub": account,
            "aud": token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        assertion = jwt.encode(claims, signing_key, algorithm="RS256", headers={"typ": "JWT"})
        register_secret(assertion)
        return assertion

    def _post(
        self,
        url: str,
        what: str,
        hint: str = _INVALID_CLIENT_HINT,
        sent: str | None = None,
        **kwargs: Any,
    ) -> tuple[Any, timedelta]:
        import requests

        try:
            response = self._http.post(url, timeout=self._timeout, allow_redirects=False, **kwargs)
        except requests.Timeout as exc:
            raise ExchangeUnavailable(
                f"MDH {what} endpoint {url} timed out after {self._timeout:g} s"
            ) from exc
        except requests.RequestException as exc:
            raise ExchangeUnavailable(
                f"cannot reach the MDH {what} endpoint {url}: {type(exc).__name__}"
            ) from exc
        skew = self._measure_skew(response.headers.get("Date"))
        if response.status_code != 200:
            raise _status_error(response, what, url, hint, sent)
        try:
            return response.json(), skew
        except (ValueError, RecursionError) as exc:
            kind = response.headers.get("Content-Type", "unknown type")
            raise ExchangeRejected(
                f"MDH {what} endpoint answered something that is not JSON "
                f"({kind}, {len(response.content)} bytes)",
                status=200,
            ) from exc

    def _measure_skew(self, date_header: str | None) -> timedelta:
        try:
            server_now = parsedate_to_datetime(date_header) if date_header else None
        except (TypeError, ValueError, IndexError):
            server_now = None
        if server_now is None or server_now.tzinfo is None:
            return self.last_skew
        skew = server_now - self._clock()
        # Date has one-second resolution and the answer took time: ignore small differences.
        self.last_skew = skew if abs(skew) > timedelta(seconds=2) else timedelta(0)
        if abs(skew) > SKEW_WARNING:
            _log.warning(
                "the local clock differs from MDH's by %d s: fix the system clock",
                int(skew.total_seconds()),
            )
        return self.last_skew


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error[:64] if isinstance(error, str) and error.isprintable() else None


def _status_error(
    response: requests.Response,
    what: str,
    url: str,
    hint: str = _INVALID_CLIENT_HINT,
    sent: str | None = None,
) -> Exception:
    status, code = response.status_code, _error_code(response)
    if is_retryable_status(status):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ExchangeUnavailable(
            f"MDH {what} endpoint {url} answered HTTP {status}", retry_after=retry_after
        )
    if code == "invalid_client":
        return ExchangeRejected(hint, status=status, error=code)
    detail = f" ({code})" if code else ""
    return ExchangeRejected(
        f"MDH {what} endpoint {url} answered HTTP {status}{detail}{_advice(status, what, sent)}",
        status=status,
        error=code,
    )


def _advice(status: int, what: str, sent: str | None) -> str:
    """What to check after a refusal; a 403 from the explorer echoes the project sent."""
    if status == 403 and what == "explorer":
        refused = f" MDH refused {sent};" if sent else ""
        return (
            f":{refused} check mdh_project_code / mdh_project_id and that the service account "
            "may use that project"
        )
    return {
        401: ": the access token was refused",
        403: ": check mdh_service_account and mdh_scope",
        404: ": check the URL",
    }.get(status, "")
