"""Our own AWS clients (DynamoDB cache, Secrets Manager): never through the mdh profile itself.

With no ``mdh_aws_profile`` the default chain is used; if that chain would resolve the mdh
profile (``AWS_PROFILE`` names it), its ``credential_process`` provider is removed so the plugin
cannot start itself; in process, the provider declines while ``guard.inside()`` holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from mdh_creds.aws.guard import inside
from mdh_creds.version import USER_AGENT

if TYPE_CHECKING:
    from mdh_creds.settings.model import Settings

LOCAL_ENDPOINT = "http://localhost:4566"  # IS_LOCAL=true: LocalStack's edge port
# botocore's own endpoint variables, which win over IS_LOCAL (e.g. a moto server in tests).
_ENDPOINT_VARIABLES = {
    "dynamodb": ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"),
    "secretsmanager": ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"),
}


def aws_client(service: str, settings: Settings, environ: Mapping[str, str]) -> Any:
    """A boto3 client of ``service`` for the plugin's own calls."""
    with inside():  # botocore resolves the client's credentials while creating it
        return _own_client(service, settings, environ)


def _own_client(service: str, settings: Settings, environ: Mapping[str, str]) -> Any:
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.Session(profile=settings.aws_profile)
    if settings.aws_profile is None and core.get_config_variable("profile") == settings.profile:
        resolver = core.get_component("credential_provider")
        for method in ("custom-process", "mdh"):  # botocore removes by METHOD, silently
            resolver.remove(method)
    session = boto3.Session(botocore_session=core)
    endpoint = None
    variables = _ENDPOINT_VARIABLES.get(service, ("AWS_ENDPOINT_URL",))
    if settings.is_local and not any(environ.get(name) for name in variables):
        endpoint = LOCAL_ENDPOINT
    config = Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 2, "mode": "standard"},
        user_agent_extra=USER_AGENT,  # CloudTrail shows the broker (DESIGN 7)
    )
    region = session.region_name or "us-east-1"
    client: Any = session.client(
        cast(Any, service), region_name=region, endpoint_url=endpoint, config=config
    )
    return client
