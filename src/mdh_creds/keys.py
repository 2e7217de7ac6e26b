"""Load the service account's private key: PEM text, a file, or an AWS Secrets Manager secret.

MDH users paste keys in many shapes: PKCS#1 or PKCS#8, on one line, with literal ``\\n``, or
base64-encoded whole. Everything is normalised to PEM here. The RSA key itself is parsed only when
an assertion must be signed (``load_signing_key``); a cache hit needs only the DER bytes.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdh_creds.errors import PrivateKeyError
from mdh_creds.pem import normalise_pem
from mdh_creds.redact import register_secret

_log = logging.getLogger(__name__)
_MAX_KEY_BYTES = 64 * 1024


@dataclass(frozen=True)
class PrivateKey:
    """A normalised PEM private key and where it came from; the key stays out of ``repr``."""

    pem: str = field(repr=False)
    der: bytes = field(repr=False)
    source: str


def parse_private_key(text: str, source: str) -> PrivateKey:
    """Normalise pasted key text to PEM; raise ``PrivateKeyError`` naming ``source``."""
    try:
        pem, body, der = normalise_pem(text)
    except ValueError as exc:
        raise PrivateKeyError(f"the private key from {source} {exc}") from None
    register_secret(pem, body, text.strip())
    return PrivateKey(pem=pem, der=der, source=source)


def load_private_key_file(path: Path, source: str) -> PrivateKey:
    """Read a key file; warn, as ssh does, when group or others may read it."""
    try:
        info = path.stat()
        if info.st_size > _MAX_KEY_BYTES:
            raise PrivateKeyError(f"the private key file {path} is too large to be a key")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PrivateKeyError(
            f"the private key file {path} does not exist (from {source}): fix mdh_private_key_file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not text"
        raise PrivateKeyError(f"cannot read the private key file {path}: {reason}") from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "private key file %s is readable by group or others: run chmod 600 %s", path, path
        )
    return parse_private_key(text, f"file {path}")


def load_signing_key(key: PrivateKey) -> Any:
    """The RSA key object for signing assertions (parsed only on the exchange path)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        loaded = load_der_private_key(key.der, password=None)
    except (ValueError, TypeError) as exc:
        raise PrivateKeyError(
            f"the private key from {key.source} is malformed or truncated"
        ) from exc
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise PrivateKeyError(
            f"the private key from {key.source} is not an RSA key (RS256 needs one)"
        )
    return loaded


@dataclass(frozen=True)
class SecretBundle:
    """What an AWS Secrets Manager secret provides; ``private_key`` is parsed already."""

    service_account: str | None
    private_key: PrivateKey | None
    project_code: str | None
    project_id: str | None


def _first(data: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def parse_secret(text: str, secret_id: str) -> SecretBundle:
    """The JSON of a secret: ``service_account``, ``private_key``, the project (RKS_* names too)."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise PrivateKeyError(f"the secret {secret_id} is not a JSON object")
    pem = _first(data, "private_key", "RKS_PRIVATE_KEY", "MDH_PRIVATE_KEY")
    source = f"secret {secret_id}"
    return SecretBundle(
        service_account=_first(
            data, "service_account", "RKS_SERVICE_ACCOUNT", "MDH_SERVICE_ACCOUNT"
        ),
        private_key=parse_private_key(pem, source) if pem else None,
        project_code=_first(data, "project_code", "RKS_PROJECT_CODE", "MDH_PROJECT_CODE"),
        project_id=_first(data, "project_id", "RKS_PROJECT_ID", "MDH_PROJECT_ID"),
    )


def fetch_secret(client: Any, secret_id: str) -> SecretBundle:
    """Read the secret with a Secrets Manager client built by the caller."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise PrivateKeyError(
            f"cannot read the secret {secret_id} from Secrets Manager: {code}"
        ) from None
    except BotoCoreError as exc:
        raise PrivateKeyError(
            f"cannot reach Secrets Manager for the secret {secret_id}: {exc}"
        ) from None
    text = answer.get("SecretString")
    if not isinstance(text, str):
        raise PrivateKeyError(f"the secret {secret_id} has no SecretString")
    register_secret(text)
    return parse_secret(text, secret_id)
