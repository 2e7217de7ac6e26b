"""Minters that make the emulator hand out credentials a real AWS-compatible server accepts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping

from mdh_creds.testing._models import MintRequest


def moto_iam_minter(
    endpoint_url: str, *, user_prefix: str = "mdh-export"
) -> Callable[[MintRequest], Mapping[str, str]]:
    """Each exchange creates an IAM user on a moto server and hands out its access key, so
    ``sts get-caller-identity`` proves which credentials a client used."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def mint(request: MintRequest) -> Mapping[str, str]:
        name = f"{user_prefix}-{request.sequence}"
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {
            "AccessKeyId": key["AccessKeyId"],
            "SecretAccessKey": key["SecretAccessKey"],
            "SessionToken": "FwoGZXIvYXdzE" + secrets.token_hex(64),
        }

    return mint
