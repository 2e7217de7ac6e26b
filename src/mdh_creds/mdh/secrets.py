"""The service account or API client from an AWS Secrets Manager secret: its JSON read into a
``SecretBundle``.

The secret holds ``service_account``, ``private_key`` and the project (the ``RKS_*``/``MDH_*``
names too), or a client id and secret (``consumerKey``/``consumerSecret`` as the older token SDK
stored them, or ``client_id``/``client_secret``). The client is built by the caller
(``aws.clients``); its text, and the client secret in it, are registered as secrets before
anything else looks at them.

A secret is untrusted input: its text is bounded in size and nesting before it is parsed. What it
holds is memoized per process for ``SECRET_TTL`` seconds (``read_secret``): a warm Lambda
environment or a long-lived provider asks Secrets Manager once per TTL, not once per refresh, and
reads it again at once when MDH refuses the key it holds (the rotation case, ``fresh=True``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from mdh_creds.errors import PrivateKeyError
from mdh_creds.mdh.keys import PrivateKey, parse_private_key
from mdh_creds.mdh.memo import SECRET_TTL
from mdh_creds.redact import register_secret

#: Secrets Manager stores at most 64 KiB; a secret's JSON is a flat object.
MAX_SECRET_CHARS = 65_536
MAX_SECRET_DEPTH = 8
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_memo: dict[Hashable, tuple[float, SecretBundle]] = {}
_memo_guard = threading.Lock()


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


def nesting_depth(text: str) -> int:
    """How deeply the JSON ``text`` nests arrays and objects (strings skipped), without
    parsing it: a hostile secret nested thousands deep must not reach the parser's recursion."""
    depth = deepest = 0
    for char in _STRINGS.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_secret(text: str, secret_id: str) -> SecretBundle:
    """The JSON of a secret: ``service_account``, ``private_key``, the project (RKS_* names too)."""
    if len(text) > MAX_SECRET_CHARS or nesting_depth(text) > MAX_SECRET_DEPTH:
        raise PrivateKeyError(
            f"the secret {secret_id} is not a flat JSON object (over {MAX_SECRET_CHARS} "
            f"characters or nested over {MAX_SECRET_DEPTH} deep): store service_account, "
            "private_key and the project as its top-level fields"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
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


def read_secret(
    scope: Hashable, fetch: Callable[[], SecretBundle], *, fresh: bool = False
) -> SecretBundle:
    """The bundle ``fetch`` reads, reused for ``SECRET_TTL`` s by this process (``scope`` names
    the secret and where it is read from); ``fresh`` reads it again whatever the memo holds."""
    now = time.monotonic()
    with _memo_guard:
        held = _memo.get(scope)
    if held is not None and not fresh and now - held[0] < SECRET_TTL:
        return held[1]
    bundle = fetch()
    with _memo_guard:
        _memo[scope] = (time.monotonic(), bundle)
    return bundle


def forget_secrets() -> None:
    """Drop every memoized secret (tests; a process that must read them again)."""
    with _memo_guard:
        _memo.clear()
