"""Our own AWS clients (DynamoDB cache, Secrets Manager, KMS): never through the mdh profile
itself.

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
_SERVICE_IDS = {"dynamodb": "DYNAMODB", "secretsmanager": "SECRETS_MANAGER", "kms": "KMS"}


def aws_client(
    service: str, settings: Settings, environ: Mapping[str, str], region: str | None = None
) -> Any:
    """A boto3 client of ``service`` for the plugin's own calls (``region``: the one an ARN
    names, else the session's)."""
    with inside():  # botocore resolves the client's credentials while creating it
        return _own_client(service, settings, environ, region)


def _own_client(
    service: str, settings: Settings, environ: Mapping[str, str], region: str | None
) -> Any:
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
    if settings.is_local and not _configured_endpoint(core, service, environ):
        endpoint = LOCAL_ENDPOINT
    config = Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 2, "mode": "standard"},
        user_agent_extra=USER_AGENT,  # CloudTrail shows the broker (DESIGN 7)
    )
    region = region or session.region_name or "us-east-1"
    client: Any = session.client(
        cast(Any, service), region_name=region, endpoint_url=endpoint, config=config
    )
    return client


def _configured_endpoint(core: Any, service: str, environ: Mapping[str, str]) -> bool:
    """True when botocore has an endpoint of its own for ``service``: the generic ``IS_LOCAL``
    ranks below ``AWS_ENDPOINT_URL[_SERVICE]`` and the profile's ``endpoint_url``/``services``."""
    service_id = _SERVICE_IDS.get(service, service.upper())
    if environ.get(f"AWS_ENDPOINT_URL_{service_id}") or environ.get("AWS_ENDPOINT_URL"):
        return True
    scoped = core.get_scoped_config()
    return bool(scoped.get("endpoint_url") or scoped.get("services"))
