"""``mdh-creds iam-policy``: the least-privilege IAM policy for the AWS calls the settings make.

Statements, each present only when the settings need it:

* ``MdhCredsCache`` (``mdh_cache = dynamodb``): ``dynamodb:GetItem``, ``PutItem`` and
  ``DeleteItem`` on the cache table: reading and writing entries, taking and releasing leases.
* ``MdhCredsCacheListing`` (same table): ``dynamodb:Scan``, needed only by ``mdh-creds status``
  and ``mdh-creds clear --all``; drop it from the policy of machines that only read credentials.
* ``MdhCredsSecret`` (``mdh_secret_id``): ``secretsmanager:GetSecretValue`` on that secret.
* ``MdhCredsKmsSign`` (``mdh_kms_key_id``): ``kms:Sign`` (each assertion, and once the cache's
  sealing material) and ``kms:GetPublicKey`` (``configure --kms-key-id``) on that key; an alias
  is allowed through the ``kms:RequestAlias`` condition, as IAM names keys, not aliases.

For ``mdh-creds wrap`` (``wrap=True``: its settings come from flags and variables only) the
statements are those of its cache's own client: the table's, and ``kms:Sign`` alone on its KMS
key (the sealing material); a wrap reads no secret and registers no key.

Creating the table (``configure --create-table``) is a one-time administrative step and needs
more (``CreateTable``, ``DescribeTable``, ``DescribeTimeToLive``, ``UpdateTimeToLive``).
The account is ``AWS_ACCOUNT_ID`` or the one in a secret ARN, else ``*``; the region is the
settings' region or the one in a secret ARN, else ``*``.
"""

from __future__ import annotations

from typing import Any

from mdh_creds.settings.model import Settings

RUNTIME_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
LISTING_ACTIONS = ("dynamodb:Scan",)
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)
KMS_ACTIONS = ("kms:Sign", "kms:GetPublicKey")
WRAP_KMS_ACTIONS = ("kms:Sign",)
# Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
SECRET_SUFFIX = "-??????"


def partition_for(region: str) -> str:
    """The ARN partition of a region (``*`` counts as the commercial partition)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _arn_parts(text: str) -> list[str] | None:
    parts = text.split(":", 6)
    return parts if len(parts) == 7 and parts[0] == "arn" else None


def secret_resource(secret_id: str, region: str, account: str) -> str:
    """The secret's ARN as given, else a pattern matching exactly that name's ARN."""
    if _arn_parts(secret_id) is not None:
        return secret_id
    partition = partition_for(region)
    return f"arn:{partition}:secretsmanager:{region}:{account}:secret:{secret_id}{SECRET_SUFFIX}"


def _statement(sid: str, actions: tuple[str, ...], resource: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resource}


def kms_statement(
    key_id: str, region: str, account: str, actions: tuple[str, ...] = KMS_ACTIONS
) -> dict[str, Any]:
    """The KMS key's ARN as given, its id made an ARN, or an alias allowed by condition."""
    if _arn_parts(key_id) is not None and ":key/" in key_id:
        return _statement("MdhCredsKmsSign", actions, key_id)
    prefix = f"arn:{partition_for(region)}:kms:{region}:{account}:key/"
    if not key_id.startswith(("alias/", "arn:")):
        return _statement("MdhCredsKmsSign", actions, prefix + key_id)
    alias = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
    statement = _statement("MdhCredsKmsSign", actions, prefix + "*")
    statement["Condition"] = {"StringEquals": {"kms:RequestAlias": alias}}
    return statement


def where(settings: Settings, account_id: str | None) -> tuple[str, str]:
    """``(region, account)``, from the settings, then a secret ARN, then ``*``."""
    region, account = settings.region, account_id
    parts = _arn_parts(settings.secret_id or "")
    if parts is not None:
        region, account = region or parts[3] or None, account or parts[4] or None
    return region or "*", account or "*"


def build_policy(
    settings: Settings, account_id: str | None = None, *, wrap: bool = False
) -> dict[str, Any]:
    """The IAM policy document (a dict) for the AWS calls these settings lead to (``wrap``:
    those of ``mdh-creds wrap`` with these settings)."""
    region, account = where(settings, account_id)
    statements: list[dict[str, Any]] = []
    if settings.cache == "dynamodb":
        table = (
            f"arn:{partition_for(region)}:dynamodb:{region}:{account}"
            f":table/{settings.dynamodb_table}"
        )
        statements.append(_statement("MdhCredsCache", RUNTIME_ACTIONS, table))
        statements.append(_statement("MdhCredsCacheListing", LISTING_ACTIONS, table))
    if settings.secret_id and not wrap:
        resource = secret_resource(settings.secret_id, region, account)
        statements.append(_statement("MdhCredsSecret", SECRET_ACTIONS, resource))
    if settings.kms_key_id:
        actions = WRAP_KMS_ACTIONS if wrap else KMS_ACTIONS
        statements.append(kms_statement(settings.kms_key_id, region, account, actions))
    return {"Version": "2012-10-17", "Statement": statements}


def notes(
    settings: Settings, policy: dict[str, Any], wildcard: bool, *, wrap: bool = False
) -> list[str]:
    sids = {statement["Sid"] for statement in policy["Statement"]}
    notes = []
    if not sids:
        notes.append(
            f"a wrap with the {settings.cache} cache and no KMS key makes no AWS calls of its "
            "own: this policy has no statements"
            if wrap
            else f"the {settings.cache} cache and a private key or client secret outside "
            "Secrets Manager make no AWS calls: this policy has no statements"
        )
    if sids and wrap:
        notes.append(
            "this is for the credentials of the cache's own AWS client (--aws-profile, else "
            "the default chain), not for those the wrapped command prints"
        )
    if "MdhCredsCacheListing" in sids:
        users = "`wrap --status`" if wrap else "`status` and `clear --all`"
        notes.append(
            f"MdhCredsCacheListing (dynamodb:Scan) is only for {users}; "
            "leave it out where credentials are only read"
        )
    if "MdhCredsSecret" in sids:
        notes.append("if the secret is encrypted with your own KMS key, also allow kms:Decrypt")
    if sids and wildcard:
        notes.append("set AWS_ACCOUNT_ID and a region to replace the * in the resources")
    return notes
