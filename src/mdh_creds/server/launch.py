"""Start the endpoint for a broker (``serve``, ``exec --server``): the keeper that holds and
refreshes its credentials, and the HTTP server; what a child of ``exec --server`` must not inherit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdh_creds.errors import ConfigError
from mdh_creds.server.endpoint import LOOPBACK, Endpoint
from mdh_creds.server.keeper import CredentialKeeper

if TYPE_CHECKING:
    from mdh_creds.broker import CredentialBroker
    from mdh_creds.settings.model import Settings

CHILD_STRIPPED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def start_endpoint(
    broker: CredentialBroker,
    *,
    account_id: str | None = None,
    host: str = LOOPBACK,
    port: int = 0,
) -> tuple[Endpoint, CredentialKeeper]:
    """Fetch the first credentials (errors reach the caller), then serve them and refresh them
    when ``broker`` would judge them stale. Build the broker with ``freshness.SDK_MIN_LEFT``, as
    for ``process``: the SDKs asking the endpoint treat 15 minutes or less left as due."""
    keeper = CredentialKeeper(broker.get_credentials, broker.refresh_due)
    keeper.start()
    try:
        endpoint = Endpoint(keeper, host=host, port=port, account_id=account_id)
    except OSError as exc:
        keeper.stop()
        raise ConfigError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from exc
    return endpoint.start(), keeper


def region_variables(settings: Settings) -> dict[str, str]:
    if not settings.region:
        return {}
    return {"AWS_REGION": settings.region, "AWS_DEFAULT_REGION": settings.region}
