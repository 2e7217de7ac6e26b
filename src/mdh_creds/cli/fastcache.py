"""What both cache-hit fast paths (``cli.fastpath`` for ``process``, ``cli.wrap_fastpath`` for
``wrap``) share: the serving of a hit, the settings read as the full command reads them, the
stored entry (the file cache, a DynamoDB entry's local copy, a pinned Secret Service), the
freshness of what it holds, and the ``cache hit`` log line. It imports only light modules.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from mdh_creds.cache.choice import SECRET_SERVICE_BACKEND, keyring_class, remembers_file_cache
from mdh_creds.cache.folder import is_private_folder, read_private
from mdh_creds.cache.stored import DYNAMODB_LOCAL_FOLDER, KEYRING_SERVICE, KIND_CREDENTIALS, SUFFIX
from mdh_creds.freshness import SDK_MIN_LEFT, Freshness, judge, to_local_seconds
from mdh_creds.settings.sources import read_all


class NotHere(Exception):
    """The fast path does not handle this case: the full command takes over."""


def serve(
    cached: Callable[[], tuple[str, str]],
    environ: Mapping[str, str],
    stdout: TextIO | None,
    stderr: TextIO | None,
    logger: str,
) -> int | None:
    """Print the document ``cached`` finds (with the cache it came from) and return 0, or
    ``None`` to let the full command run. With ``MDH_LOG_FORMAT=json`` a ``cache hit`` line
    from ``logger`` goes to ``stderr``, as the full command would log it."""
    started = time.monotonic()
    try:
        log_json = _logs_json(environ)
        document, cache = cached()
    except Exception:  # any surprise: the full command runs and reports it
        return None
    if stdout is None:  # started with stdout closed: the full command says so in one line
        return None
    try:
        stdout.write(document + "\n")
        stdout.flush()
    except (OSError, ValueError):  # a closed or broken stdout: the full command reports it
        return None
    if log_json and stderr is not None:
        stderr.write(_hit_line(cache, started, logger) + "\n")
    return 0


def _logs_json(environ: Mapping[str, str]) -> bool:
    """``MDH_LOG_FORMAT=json``; a bad value raises (the full command reports it)."""
    if not environ.get("MDH_LOG_FORMAT"):
        return False
    from mdh_creds.cli.logline import chosen_format

    return chosen_format(None, environ) == "json"


def _hit_line(cache: str, started: float, logger: str) -> str:
    """The ``cache hit`` JSON log line, as the full command's log would write it."""
    from mdh_creds.cli.logline import json_line

    seconds = round(time.monotonic() - started, 3)
    tier = "local" if cache == "dynamodb" else cache
    message = f"cache hit: credentials ({cache} cache, fast path)"
    fields = {"backend": cache, "kind": KIND_CREDENTIALS, "tier": tier, "seconds": seconds}
    return json_line("INFO", "cache hit", message, logger=logger, **fields)


def read_settings(
    environ: Mapping[str, str], profile_keys: Mapping[str, str], origin: str
) -> dict[str, Any]:
    """Every setting as the full command reads it with no flags and no ``.env`` file."""
    return {
        name: value
        for name, (value, _) in read_all({}, [(environ, "")], profile_keys, origin).items()
    }


def stored_entry(
    settings: Mapping[str, Any], environ: Mapping[str, str], folder: str, name: str
) -> bytes:
    """The stored bytes of entry ``name``: the file cache, a DynamoDB entry's local copy, or the
    Secret Service."""
    cache = settings["cache"]
    if not is_private_folder(folder):
        raise NotHere("a cache folder the full command warns about or refuses")
    if cache == "dynamodb":
        folder = os.path.join(folder, DYNAMODB_LOCAL_FOLDER)
        if not is_private_folder(folder):
            raise NotHere("a local tier folder the full command warns about or refuses")
    if cache in ("file", "dynamodb") or (cache == "auto" and remembers_file_cache(folder)):
        stored = read_private(os.path.join(folder, name + SUFFIX))
        if stored is None:
            raise NotHere("no usable entry")
        return stored
    if cache in ("keyring", "auto") and pinned_secret_service(environ, folder):
        import binascii

        return binascii.a2b_base64(secret_service_item(name))
    raise NotHere("a cache the fast path does not read")


def pinned_secret_service(environ: Mapping[str, str], folder: str) -> bool:
    """True when the keyring cache would use the Secret Service backend without detection."""
    return keyring_class(environ, folder) == SECRET_SERVICE_BACKEND


def secret_service_item(name: str) -> str:
    """The item the keyring library stores (attributes ``service``, ``username``), read with
    SecretStorage directly: ``import keyring`` alone costs more than the whole fast path."""
    import secretstorage

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        if collection.is_locked():
            raise NotHere("locked: the full command explains")
        query = {"username": name, "service": KEYRING_SERVICE}
        for item in collection.search_items(query):
            if item.is_locked():
                raise NotHere("locked item")
            return bytes(item.get_secret()).decode("utf-8")
    finally:
        connection.close()
    raise NotHere("no entry")


def fresh_fields(payload: Mapping[str, Any], now: float, window: float) -> tuple[Any, ...]:
    """``(AccessKeyId, SecretAccessKey, SessionToken, Expiration)`` of an entry the full
    command would serve as it is (its local expiry as ``...Z``); ``NotHere`` when it would
    refresh it. The caller checks the three values."""
    expires_at, issued_at = float(payload["ExpiresEpoch"]), float(payload["IssuedEpoch"])
    skew = float(payload.get("Skew", 0.0))
    if (
        judge(expires_at, issued_at, skew, window, now, min_left=SDK_MIN_LEFT)
        is not Freshness.FRESH
    ):
        raise NotHere("stale or expired: the full command refreshes")
    key_id, secret, token = (payload[n] for n in ("AccessKeyId", "SecretAccessKey", "SessionToken"))
    local_expiry = to_local_seconds(expires_at, issued_at, skew)
    expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(local_expiry)))
    return key_id, secret, token, expiration
