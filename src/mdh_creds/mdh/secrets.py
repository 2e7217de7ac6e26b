"""The service account or API client from an AWS Secrets Manager secret: its JSON read into a
``SecretBundle``.

The secret holds ``service_account``, ``private_key`` and the project (the ``RKS_*``/``MDH_*``
names too), or a client id and secret (``consumerKey``/``consumerSecret`` as the older token SDK
stored them, or ``client_id``/``client_secret``). The client is built by the caller
(``aws.clients``); its text, and the client secret in it, are registered as secrets before
anything else looks at them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mdh_creds.errors import PrivateKeyError
from mdh_creds.mdh.keys import PrivateKey, parse_private_key
from mdh_creds.redact import register_secret


@dataclass(frozen=True)
class SecretBundle:
    """What an AWS Secrets Manager secret provides; ``private_key`` is parsed already."""

    service_account: str | None
    private_key: PrivateKey | None
    project_code: str | None
    project_id: str | None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)


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
    client_secret = _first(
        data, "consumerSecret", "client_secret", "MDH_CLIENT_SECRET", "CONSUMER_SECRET"
    )
    register_secret(client_secret)
    return SecretBundle(
        service_account=_first(
            data, "service_account", "RKS_SERVICE_ACCOUNT", "MDH_SERVICE_ACCOUNT"
        ),
        private_key=parse_private_key(pem, source) if pem else None,
        project_code=_first(data, "project_code", "RKS_PROJECT_CODE", "MDH_PROJECT_CODE"),
        project_id=_first(data, "project_id", "RKS_PROJECT_ID", "MDH_PROJECT_ID"),
        client_id=_first(data, "consumerKey", "client_id", "MDH_CLIENT_ID", "CONSUMER_KEY"),
        client_secret=client_secret,
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
        ) from exc
    except BotoCoreError as exc:
        raise PrivateKeyError(
            f"cannot reach Secrets Manager for the secret {secret_id}: {exc}"
        ) from exc
    text = answer.get("SecretString")
    if not isinstance(text, str):
        raise PrivateKeyError(f"the secret {secret_id} has no SecretString")
    register_secret(text)
    return parse_secret(text, secret_id)
