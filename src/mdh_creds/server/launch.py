"""Start the endpoint for a profile (``serve``, ``exec --server``): the broker, the keeper that
holds and refreshes its credentials, and the HTTP server; what a child of ``exec --server`` must
not inherit.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from mdh_creds.errors import ConfigError
from mdh_creds.server.endpoint import LOOPBACK, Endpoint
from mdh_creds.server.keeper import CredentialKeeper
from mdh_creds.settings.model import Settings

if TYPE_CHECKING:
    from mdh_creds.cli.context import Context

# SDKs treat credentials with 15 minutes or less left as due and ask again on every call: the
# endpoint's window is at least 16 minutes, scaled down with the lifetime like every window.
SERVED_FLOOR = timedelta(minutes=16)
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
    ctx: Context, settings: Settings, *, host: str = LOOPBACK, port: int = 0
) -> tuple[Endpoint, CredentialKeeper]:
    """Fetch the first credentials (errors reach the caller), then serve and refresh them."""
    from mdh_creds.cli.context import make_broker

    broker = make_broker(ctx, settings)
    window = max(broker.policy.refresh_window, SERVED_FLOOR)
    broker.policy = dataclasses.replace(broker.policy, refresh_window=window)
    keeper = CredentialKeeper(broker.get_credentials, window)
    keeper.start()
    try:
        endpoint = Endpoint(keeper, host=host, port=port, account_id=settings.account_id)
    except OSError as exc:
        keeper.stop()
        raise ConfigError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    return endpoint.start(), keeper


def region_variables(settings: Settings) -> dict[str, str]:
    if not settings.region:
        return {}
    return {"AWS_REGION": settings.region, "AWS_DEFAULT_REGION": settings.region}
