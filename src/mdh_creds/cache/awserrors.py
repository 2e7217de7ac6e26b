"""AWS failures of the DynamoDB cache as one-line ``CacheUnavailable`` messages naming the table.

Shared by the entry store (``dynamodb``) and the leases (``lease``); botocore is imported only
when an error has to be classified.
"""

from __future__ import annotations

from mdh_creds.errors import CacheUnavailable

CONDITION_FAILED = "ConditionalCheckFailedException"
CREATE_HINT = "create it with `mdh-creds configure --create-table` or set mdh_dynamodb_table"
_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
}


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty for any other exception)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def aws_errors() -> tuple[type[BaseException], ...]:
    """The botocore exceptions a DynamoDB call may raise."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def unavailable(table: str, exc: BaseException) -> CacheUnavailable:
    """The one-line ``CacheUnavailable`` for an AWS failure on ``table``."""
    code = error_code(exc)
    if code == "ResourceNotFoundException":
        return CacheUnavailable(f"DynamoDB table {table} not found: {CREATE_HINT}")
    return CacheUnavailable(f"DynamoDB table {table} {_reason(code, exc)}")


def _reason(code: str, exc: BaseException) -> str:
    from botocore import exceptions as boto

    if code in _THROTTLED:
        reason = f"is throttling requests ({code}); retry later"
    elif code in _DENIED:
        reason = f"refused access ({code}): check the AWS credentials and IAM policy"
    elif code:
        reason = f"failed a request ({code})"
    elif isinstance(exc, boto.NoCredentialsError):
        reason = "cannot be reached: no AWS credentials found"
    elif isinstance(exc, (boto.EndpointConnectionError, boto.ConnectTimeoutError)):
        reason = "cannot be reached: the DynamoDB endpoint does not answer"
    elif isinstance(exc, boto.ReadTimeoutError):
        reason = "cannot be reached: the DynamoDB endpoint timed out"
    else:
        reason = f"is not usable ({type(exc).__name__})"
    return reason
