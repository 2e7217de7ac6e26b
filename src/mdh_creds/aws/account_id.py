"""The AWS account id behind a set of credentials: one STS GetCallerIdentity, made with them.

``configure --lookup-account-id`` writes the answer as botocore's ``aws_account_id``, which
``process`` and the endpoint then pass on as ``AccountId``.
"""

from __future__ import annotations

from mdh_creds import __version__
from mdh_creds.aws.guard import inside
from mdh_creds.errors import ConfigError
from mdh_creds.models import TemporaryCredentials
from mdh_creds.settings.model import Settings
from mdh_creds.settings.values import parse_account_id


def lookup_account_id(creds: TemporaryCredentials, settings: Settings) -> str:
    """The 12-digit account id of ``creds``; ``ConfigError`` saying what to do when STS fails."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 2, "mode": "standard"},
        user_agent_extra=f"mdh-creds/{__version__}",
    )
    try:
        with inside():  # explicit keys: no provider of ours, no credential_process
            session = boto3.Session(
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret_access_key,
                aws_session_token=creds.session_token,
                region_name=settings.region or "us-east-1",
                profile_name=settings.profile if settings.profile_found else None,
            )
            answer = session.client("sts", config=config).get_caller_identity()
        return parse_account_id(str(answer.get("Account", "")))
    except (BotoCoreError, ClientError, ValueError) as exc:
        raise ConfigError(
            f"cannot look up the account id (STS GetCallerIdentity: {type(exc).__name__}): "
            f"set aws_account_id in profile {settings.profile} of {settings.config_file} by hand"
        ) from exc
