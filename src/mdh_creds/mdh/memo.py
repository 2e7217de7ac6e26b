"""A service account read from Secrets Manager, remembered on this machine for ``SECRET_TTL``
seconds so a cache hit needs no AWS call: what the secret names (the account and project) and the
key that opens this account's cache entries, never the private key itself.

``<cache folder>/secret-<digest>.json`` (0600, in a folder of ours, written atomically), where
``<digest>`` is the SHA-256 of the secret's id and of where it is read from (``secret_scope``).
The entry key is the one ``crypto`` derives from the private key: it opens the short-lived entries
the folder holds already, and signs nothing. The full command writes it whenever it reads the
secret; the fast path reads it while it is younger than ``SECRET_TTL``. ``status`` shows it and
its age, ``clear`` removes the profile's and ``clear --all`` every one. Light: the fast path
imports it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mdh_creds.cache.folder import read_private
from mdh_creds.mdh.pem import b64decode_strict

if TYPE_CHECKING:
    from mdh_creds.settings.model import Settings

#: How long a secret read is reused, by the process that read it and by this machine's hits (s).
SECRET_TTL = 600.0
_FIELDS = ("service_account", "project_code", "project_id")


def secret_scope(
    secret_id: str, aws_profile: str | None, region: str | None, environ: Mapping[str, str]
) -> tuple[str, ...]:
    """What names one secret as read from here: its id, the AWS profile and region used, and
    the endpoint variables that send the read elsewhere (moto, LocalStack)."""
    endpoint = environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or environ.get("AWS_ENDPOINT_URL")
    local = environ.get("IS_LOCAL") or ""
    return (secret_id, aws_profile or "", region or "", endpoint or "", local)


def memo_path(folder: str, scope: tuple[str, ...]) -> str:
    """Where the memo of the secret ``scope`` names lives (SHA-256, as entry names are made)."""
    from mdh_creds.crypto import identity_digest  # cryptography's SHA-256: loaded for a hit

    digest = identity_digest({"secret_scope": json.dumps(list(scope))})
    return os.path.join(folder, f"secret-{digest}.json")


def to_memo(account: Mapping[str, str | None], entry_key: bytes, read_at: float) -> bytes:
    """The memo's bytes: the account's names, its entry key and when the secret was read."""
    import base64  # the full command writes the memo: a hit only reads it

    document: dict[str, Any] = {name: account.get(name) for name in _FIELDS}
    document.update(entry_key=base64.b64encode(entry_key).decode(), read_at=read_at)
    return json.dumps(document).encode()


def load_memo(folder: str, scope: tuple[str, ...], now: float) -> tuple[dict[str, Any], bytes]:
    """``(the account's names, its entry key)``; ``ValueError`` when there is no usable memo
    (absent, not ours, malformed, older than ``SECRET_TTL`` or from the future)."""
    stored = read_private(memo_path(folder, scope), limit=4096)
    document = json.loads(stored or b"null")
    if not isinstance(document, dict):
        raise ValueError("no memo of this secret")
    read_at, key = document.get("read_at"), document.get("entry_key")
    if not isinstance(read_at, float | int) or not 0 <= now - read_at < SECRET_TTL:
        raise ValueError("the memo is too old")
    names = {name: document.get(name) for name in _FIELDS}
    if not isinstance(key, str) or not all(v is None or isinstance(v, str) for v in names.values()):
        raise ValueError("a malformed memo")
    entry_key = b64decode_strict(key)  # base64.b64decode(validate=True), without base64
    if len(entry_key) != 32:
        raise ValueError("a malformed memo")
    return names, entry_key


def settings_memo(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Where the memo of the secret ``settings`` name lives (``None``: they name none)."""
    if settings.secret_id is None:
        return None
    scope = secret_scope(settings.secret_id, settings.aws_profile, settings.region, environ)
    return memo_path(str(settings.cache_folder(environ)), scope)


def memo_age(path: str, now: float) -> float | None:
    """Seconds since the secret of the memo at ``path`` was read; ``ValueError`` when there is
    none of ours there, ``None`` when it does not say."""
    stored = read_private(path, limit=4096)
    if stored is None:
        raise ValueError("no memo")
    try:
        read_at = json.loads(stored).get("read_at")
    except (ValueError, AttributeError):
        return None
    return now - read_at if isinstance(read_at, float | int) else None


def remove_memo(path: str) -> bool:
    """Remove the memo at ``path``; whether there was one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def remove_memos(folder: str) -> int:
    """Remove every memo of the cache folder ``folder`` (ours: the caller checked); how many."""
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    found = [n for n in names if n.startswith("secret-") and n.endswith(".json")]
    return sum(remove_memo(os.path.join(folder, name)) for name in found)
