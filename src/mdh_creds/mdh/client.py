"""The MDH exchange over an injected ``requests.Session``: assertion, access token, credentials.

1. A JWT assertion (RS256, ``typ: JWT``, iss = sub = account, aud = token URL, 5-minute life,
   fresh ``jti``; signed by a ``mdh.assertion.Signer``: a key here or in KMS) is traded for an
   access token (client credentials, RFC 7523).
2. The token (raw, no "Bearer") is traded at the explorer endpoint for AWS credentials.
Or, for an API client: a client id and secret are traded for an access token (RFC 6749 4.4).
Every request is bounded in time and size (``mdh.transport``); every answer is validated before
use; the server's ``Date`` header gives the clock skew (judged by ``freshness``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from mdh_creds.clock import Clock, parse_http_date, utc_now
from mdh_creds.errors import ExchangeRejected, ExchangeUnavailable
from mdh_creds.mdh.answers import parse_credentials_answer, parse_token_answer
from mdh_creds.mdh.assertion import Signer, encode_assertion
from mdh_creds.mdh.client_secret import INVALID_CLIENT_HINT, client_request
from mdh_creds.mdh.retry import (
    Backoff,
    call_budget,
    call_with_retries,
    is_retryable_status,
    parse_retry_after,
)
from mdh_creds.mdh.transport import Answer, BoundedHttp
from mdh_creds.models import AccessToken, TemporaryCredentials
from mdh_creds.redact import printable, register_secret

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
    """Speaks the two MDH endpoints; retries are applied here, per request, within one bound
    for the whole call (``retry.call_budget``). ``http`` gets our adapters (``BoundedHttp``)."""

    def __init__(
        self,
        http: requests.Session,
        *,
        timeout: float,
        backoff: Backoff,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self._http = BoundedHttp(http, ca_bundle=ca_bundle)
        self._timeout, self._backoff, self._clock = timeout, backoff, clock
        self._sleep = sleep
        self.last_skew = timedelta(0)

    def fetch_access_token(
        self, account: str, sign: Signer, token_url: str, scope: str
    ) -> AccessToken:
        """An access token for a service account; ``sign`` signs each attempt's new assertion
        (a KMS signer's transient faults are retried as the token call's are)."""

        def attempt(deadline: float) -> AccessToken:
            form = {
                "scope": scope,
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._assertion(account, sign, token_url),
            }
            answer, skew = self._post(token_url, "token", deadline, data=form)
            token = parse_token_answer(answer, self._clock() + skew, skew)
            register_secret(token.value)
            return token

        return self._retrying(attempt)

    def fetch_client_token(
        self, client_id: str, client_secret: str, token_url: str, scope: str, method: str
    ) -> AccessToken:
        """An access token for a client id and secret (``method``: ``basic`` or ``post``)."""
        form, auth = client_request(client_id, client_secret, scope, method)

        def attempt(deadline: float) -> AccessToken:
            answer, skew = self._post(
                token_url, "token", deadline, hint=INVALID_CLIENT_HINT, data=form, auth=auth
            )
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

        def attempt(deadline: float) -> TemporaryCredentials:
            answer, skew = self._post(
                exchange_url, "explorer", deadline, sent=sent, headers=headers
            )
            creds = parse_credentials_answer(answer, self._clock() + skew, skew)
            register_secret(creds.secret_access_key, creds.session_token)
            return creds

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[float], T]) -> T:
        deadline = time.monotonic() + call_budget(self._timeout, self._backoff)
        return call_with_retries(
            lambda: attempt(deadline), self._backoff, self._sleep or time.sleep, deadline=deadline
        )

    def _assertion(self, account: str, sign: Signer, token_url: str) -> str:
        now = int(self._clock().timestamp())
        claims = {
            "iss": account,
            "sub": account,
            "aud": token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        assertion = encode_assertion(claims, sign)
        register_secret(assertion)
        return assertion

    def _post(
        self,
        url: str,
        what: str,
        deadline: float,
        *,
        hint: str = _INVALID_CLIENT_HINT,
        sent: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[Any, timedelta]:
        answer = self._http.post(
            url,
            label=f"MDH {what} endpoint {url}",
            timeout=self._timeout,
            deadline=deadline,
            headers={**(headers or {}), "Accept-Encoding": "gzip, deflate"},  # mdh.body decodes
            **kwargs,
        )
        skew = self._measure_skew(answer.headers.get("Date"))
        if answer.status != 200:
            raise _status_error(answer, what, url, hint, sent)
        try:
            return json.loads(answer.body), skew
        except (ValueError, RecursionError) as exc:
            kind = printable(answer.headers.get("Content-Type", "unknown type"), 80)
            raise ExchangeRejected(
                f"MDH {what} endpoint answered something that is not JSON "
                f"({kind}, {len(answer.body)} bytes)",
                status=200,
            ) from exc

    def _measure_skew(self, date_header: str | None) -> timedelta:
        """Server minus local clock from ``Date``, kept raw: ``freshness`` decides how much of
        it may judge an entry. A ``Date`` that cannot be a real time is ignored."""
        server_now = parse_http_date(date_header)
        if server_now is None:
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


def _error_code(response: Answer) -> str | None:
    try:
        body = json.loads(response.body)
    except (ValueError, RecursionError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error[:64] if isinstance(error, str) and error.isprintable() else None


def _status_error(
    response: Answer,
    what: str,
    url: str,
    hint: str = _INVALID_CLIENT_HINT,
    sent: str | None = None,
) -> Exception:
    status, code = response.status, _error_code(response)
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
