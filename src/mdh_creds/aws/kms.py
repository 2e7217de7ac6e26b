"""AWS KMS holding the service account's key: ``Sign`` makes the assertion's RS256 signature
(``RSASSA_PKCS1_V1_5_SHA_256``), so the key never leaves KMS and each use is in CloudTrail;
``GetPublicKey`` gives the PEM that MDH's console registers; and a signature over a fixed message
is the material of the cache sealing key (``cache.material``).

RSASSA-PKCS1 v1.5 is deterministic (RFC 8017 8.2): the same key signs the same message the same
way, so that material is the same on every machine that may call ``kms:Sign`` with the key, and
on none that may not. The message is not a JWT, so the material can never pass as an assertion.

Errors become ours here, once: a key that is missing, disabled, not allowed or of the wrong kind
is exit 3 naming it; throttling, KMS's own faults and the network are transient
(``ExchangeUnavailable``: the exchange retries them as it retries MDH).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mdh_creds.errors import ConfigError, ExchangeUnavailable, MdhCredsError

SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
SEALING_MESSAGE = b"mdh-creds cache sealing key v1: a KMS signature kept as key material"
_TRANSIENT = frozenset(
    {
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
_KEY_PROBLEMS = {
    "NotFoundException": "does not exist in that account and region",
    "DisabledException": "is disabled",
    "KMSInvalidStateException": "cannot be used now (pending deletion or import)",
    "InvalidKeyUsageException": "cannot sign (an RSA key with key usage SIGN_VERIFY can)",
    "UnsupportedOperationException": "cannot sign",
    "InvalidArnException": "is not a valid key ARN",
    "ValidationException": "is not a valid key id, alias or ARN",
    "AccessDeniedException": (
        "may not be used by these AWS credentials: allow kms:Sign and kms:GetPublicKey on it "
        "(mdh-creds iam-policy prints the policy)"
    ),
}


def region_of(key_id: str) -> str | None:
    """The region a key ARN names (``arn:aws:kms:REGION:ACCOUNT:key/ID``), else ``None``."""
    parts = key_id.split(":")
    return parts[3] or None if len(parts) >= 6 and parts[0] == "arn" else None


class KmsKey:
    """One KMS key, reached through a client made on first use by ``client_factory``."""

    def __init__(self, key_id: str, client_factory: Callable[[], Any]) -> None:
        self.key_id = key_id
        self._factory = client_factory
        self._client: Any = None

    def __repr__(self) -> str:
        return f"KmsKey({self.key_id!r})"

    def sign(self, message: bytes) -> bytes:
        """The RSASSA-PKCS1 v1.5 SHA-256 signature of ``message`` (the JWT signing input)."""
        answer = self._call(
            "sign",
            KeyId=self.key_id,
            Message=message,
            MessageType="RAW",
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
        signature = answer.get("Signature")
        if not isinstance(signature, bytes) or not signature:
            raise ExchangeUnavailable(f"AWS KMS answered Sign with no signature ({self._named})")
        return signature

    def public_key_pem(self) -> str:
        """The key's public half as a PEM (SubjectPublicKeyInfo), checked to be an RSA key that
        signs with ``SIGNING_ALGORITHM``."""
        from cryptography.hazmat.primitives import serialization

        answer = self._call("get_public_key", KeyId=self.key_id)
        algorithms = answer.get("SigningAlgorithms") or []
        if answer.get("KeyUsage") != "SIGN_VERIFY" or SIGNING_ALGORITHM not in algorithms:
            raise ConfigError(
                f"{self._named} is not an RSA signing key: create one with key spec RSA_2048 "
                "(or larger) and key usage SIGN_VERIFY"
            )
        public = serialization.load_der_public_key(answer["PublicKey"])
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode("ascii")

    @property
    def _named(self) -> str:
        return f"the KMS key {self.key_id} (mdh_kms_key_id)"

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        import botocore.exceptions

        try:
            if self._client is None:
                self._client = self._factory()
            answer: dict[str, Any] = getattr(self._client, operation)(**params)
            return answer
        except botocore.exceptions.ClientError as exc:
            raise self._client_error(exc) from exc
        except botocore.exceptions.NoCredentialsError as exc:
            raise ConfigError(
                f"no AWS credentials to use {self._named}: set mdh_aws_profile "
                "(--aws-profile, MDH_AWS_PROFILE) to a profile allowed to call kms:Sign"
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise ExchangeUnavailable(f"AWS KMS is unreachable ({type(exc).__name__})") from exc

    def _client_error(self, exc: Any) -> MdhCredsError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _TRANSIENT or status >= 500:
            return ExchangeUnavailable(f"AWS KMS answered {code or status} for {self._named}")
        problem = _KEY_PROBLEMS.get(code, f"was refused by AWS KMS ({code or status})")
        return ConfigError(f"{self._named} {problem}")


def sealing_material(key: KmsKey) -> bytes:
    """The material of the cache sealing key: the key's signature over ``SEALING_MESSAGE``."""
    return key.sign(SEALING_MESSAGE)
