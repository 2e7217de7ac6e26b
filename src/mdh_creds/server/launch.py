"""Start the endpoint for a profile, and the two ``exec`` modes that do not hand out static keys.

``exec --server``: the child gets ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` (and the region), and none of the variables with which an
SDK would find other credentials first (``CHILD_STRIPPED``, DESIGN 3.4). The endpoint lives as
long as the child. ``exec --profile-env``: no keys, ``AWS_PROFILE=<profile>``, so the child's SDK
runs the profile's ``credential_process`` itself whenever it needs to.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from mdh_creds.errors import ConfigError
from mdh_creds.server.endpoint import LOOPBACK, Endpoint
from mdh_creds.server.keeper import CredentialKeeper
from mdh_creds.settings import Settings

if TYPE_CHECKING:
    from mdh_creds.cli import Context

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
    from mdh_creds.commands import make_broker

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


def exec_with_server(ctx: Context, settings: Settings, argv: list[str]) -> int:
    """Run ``argv`` with the endpoint's variables; the endpoint stops when the child ends."""
    from mdh_creds.execute import REMOVED_VARIABLES, child_environment, run_child

    warn_default_keys(ctx, argv[0])
    endpoint, keeper = start_endpoint(ctx, settings)
    try:
        variables = {**endpoint.variables(), **region_variables(settings)}
        removed = (*REMOVED_VARIABLES, *CHILD_STRIPPED)
        env = child_environment(ctx.environ, variables, settings.profile, removed)
        ctx.stdout.flush()
        ctx.stderr.flush()
        return run_child(argv, env, ctx.stderr)
    finally:
        endpoint.stop()
        keeper.stop()


def exec_with_profile(ctx: Context, settings: Settings, argv: list[str]) -> int:
    """Run ``argv`` with ``AWS_PROFILE`` set and no keys, the cache warmed first."""
    from mdh_creds.commands import make_broker
    from mdh_creds.execute import REMOVED_VARIABLES, child_environment, run_child
    from mdh_creds.profiles import load_profile

    make_broker(ctx, settings).get_credentials()  # fail here, not in the child; warm the cache
    keys = load_profile(str(settings.config_file), settings.profile) or {}
    if "credential_process" not in keys:
        ctx.stderr.write(
            f"mdh-creds: warning: profile {settings.profile} in {settings.config_file} has no "
            f"credential_process, so SDKs in {argv[0]} find no credentials through it: run "
            f"mdh-creds configure --profile {settings.profile}\n"
        )
    removed = (*REMOVED_VARIABLES, *CHILD_STRIPPED)
    env = child_environment(
        ctx.environ, {"AWS_PROFILE": settings.profile}, settings.profile, removed
    )
    ctx.stdout.flush()
    ctx.stderr.flush()
    return run_child(argv, env, ctx.stderr)


def warn_default_keys(ctx: Context, command: str) -> None:
    """Static keys in ``[default]`` of the shared credentials file outrank the endpoint."""
    from mdh_creds.awsconfig import credentials_file_path
    from mdh_creds.configure import find_shadowing_keys

    try:
        found = find_shadowing_keys(ctx.environ, "default")
    except ConfigError:
        return
    if found:
        ctx.stderr.write(
            f"mdh-creds: warning: [default] in {credentials_file_path(ctx.environ)} holds "
            f"{', '.join(found)}: SDKs in {command} use those keys before the endpoint; remove "
            "them from that file\n"
        )
