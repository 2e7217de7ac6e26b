"""One AssumeRole call: the broker's ``Source`` for a hop of a role chain.

The STS client is made as botocore's ``AssumeRoleProvider`` makes it: a client of the session
of the profile asked for (its region, ``sts_regional_endpoints``, ``endpoint_url``,
``AWS_ENDPOINT_URL[_STS]``), signed with the source credentials. The session name is the
profile's ``role_session_name``, else botocore's ``botocore-session-<epoch seconds>``. Failures
become ``ExchangeError``s, so a stale entry is served through them; no secret is in a message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from mdh_creds.clock import Clock, parse_http_date, utc_now
from mdh_creds.errors import ExchangeRejected, ExchangeUnavailable
from mdh_creds.models import TemporaryCredentials
from mdh_creds.roles.chain import Hop

#: Makes the STS client from the source credentials (``sts_client`` in real use).
ClientFactory = Callable[[TemporaryCredentials], Any]
_SMALL_SKEW = timedelta(seconds=2)  # as the MDH client: below this the clocks agree
_UNAVAILABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalFailure",
}
_DEFAULT_REGION = "us-east-1"


class AssumeRoleSource:
    """Assumes ``hop``'s role on the credentials ``source`` gives (the source profile's own
    broker, so they are cached and single-flighted too)."""

    def __init__(
        self,
        hop: Hop,
        source: Callable[[], TemporaryCredentials],
        client_factory: ClientFactory,
        clock: Clock = utc_now,
    ) -> None:
        self._hop, self._source, self._clock = hop, source, clock
        self._client_factory = client_factory

    def __repr__(self) -> str:
        return f"AssumeRoleSource({self._hop.role_arn!r})"

    def fetch_credentials(self) -> TemporaryCredentials:
        source = self._source()
        try:
            answer = self._client_factory(source).assume_role(**self.arguments())
        except Exception as exc:
            raise self._failure(exc) from None
        return self._credentials(answer)

    def arguments(self) -> dict[str, Any]:
        """The AssumeRole parameters botocore sends for this hop."""
        hop = self._hop
        name = hop.role_session_name or f"botocore-session-{int(time.time())}"
        found: dict[str, Any] = {"RoleArn": hop.role_arn, "RoleSessionName": name}
        if hop.external_id is not None:
            found["ExternalId"] = hop.external_id
        if hop.duration_seconds is not None:
            found["DurationSeconds"] = hop.duration_seconds
        return found

    def _credentials(self, answer: Any) -> TemporaryCredentials:
        local = self._clock()
        try:
            creds = answer["Credentials"]
            headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            expires = creds["Expiration"]
            if not isinstance(expires, datetime):
                raise TypeError("Expiration")
            server_now = parse_http_date(headers.get("date"))
            skew = timedelta(0) if server_now is None else server_now - local
            skew = skew if abs(skew) > _SMALL_SKEW else timedelta(0)
            return TemporaryCredentials(
                access_key_id=str(creds["AccessKeyId"]),
                secret_access_key=str(creds["SecretAccessKey"]),
                session_token=str(creds["SessionToken"]),
                expires_at=expires.astimezone(timezone.utc),
                issued_at=local + skew,
                skew=skew,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ExchangeRejected(
                f"STS answered AssumeRole for {self._hop.describe()} without credentials "
                f"({type(exc).__name__}: {exc})"
            ) from None

    def _failure(self, exc: Exception) -> Exception:
        """The error for a failed AssumeRole: rejected (denied, invalid) or unavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        what = f"STS AssumeRole of {self._hop.describe()} failed"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "error")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = f"{what}: {code}: {error.get('Message') or ''}".rstrip(": ")
            if code in _UNAVAILABLE_CODES or (isinstance(status, int) and status >= 500):
                return ExchangeUnavailable(message)
            return ExchangeRejected(message, status=status, error=code)
        if isinstance(exc, BotoCoreError):
            return ExchangeUnavailable(f"{what}: {exc}")
        return ExchangeUnavailable(f"{what}: {type(exc).__name__}: {exc}")


def sts_client_factory(
    profile: str, timeout: float, environ: Mapping[str, str] | None = None
) -> ClientFactory:
    """STS clients of profile ``profile``'s botocore session, signed with the credentials given
    (so creating one never resolves credentials, nor runs a ``credential_process``). The config
    file, region and ``AWS_ENDPOINT_URL[_STS]`` are read from ``environ`` (default: the process
    environment), as botocore would read them from the process environment."""
    environ = os.environ if environ is None else environ

    def create(creds: TemporaryCredentials) -> Any:
        from botocore.config import Config

        from mdh_creds.aws.guard import inside
        from mdh_creds.version import USER_AGENT

        with inside():
            session = _session(profile, environ)
            config = Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 3, "mode": "standard"},
                user_agent_extra=USER_AGENT,
            )
            return session.create_client(
                "sts",
                region_name=_region(session, environ),
                endpoint_url=_endpoint(environ),
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret_access_key,
                aws_session_token=creds.session_token,
                config=config,
            )

    return create


def _session(profile: str, environ: Mapping[str, str]) -> Any:
    """A botocore session of ``profile`` reading the config files ``environ`` names."""
    import botocore.session

    from mdh_creds.settings.sources import config_file

    session = botocore.session.Session()
    session.set_config_variable("config_file", config_file(environ))
    if environ.get("AWS_SHARED_CREDENTIALS_FILE"):
        session.set_config_variable("credentials_file", environ["AWS_SHARED_CREDENTIALS_FILE"])
    session.set_config_variable("profile", profile)
    return session


def _region(session: Any, environ: Mapping[str, str]) -> str:
    found = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    return str(found or session.get_config_variable("region") or _DEFAULT_REGION)


def _endpoint(environ: Mapping[str, str]) -> str | None:
    """``AWS_ENDPOINT_URL_STS``, else ``AWS_ENDPOINT_URL`` (botocore reads a profile's own
    ``endpoint_url`` and ``services`` itself), unless configured endpoints are ignored."""
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL") or None
