"""The cache hit of ``mdh-creds wrap`` with the fewest imports: find the entry, open it, print.

It handles ``wrap [--name N] [--command-timeout S] [--default-lifetime S] -- CMD ...`` with the
settings from the environment only (as the full command reads them: ``settings.sources``), the
file cache, a DynamoDB entry's local copy, or the keyring cache on a pinned Secret Service; the
sealing key from its key file or a pinned Secret Service (``wrapped.keys``), or a KMS key's kept
sealing material (``cache.material``); and a fresh entry.
Anything else returns ``None`` and the full command runs, which gives the same answer (and every
error message). Names, paths and freshness come from the functions the full command uses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from mdh_creds.cache.material import load_material, material_path
from mdh_creds.cache.stored import KIND_CREDENTIALS, CacheKey, live_body
from mdh_creds.cli.fastpath import (
    _hit_line,
    _logs_json,
    _NotHere,
    _pinned_secret_service,
    _secret_service_item,
    _stored_entry,
    read_settings,
)
from mdh_creds.crypto import Sealer
from mdh_creds.freshness import SDK_MIN_LEFT, Freshness, judge, to_local_seconds
from mdh_creds.settings import specs, values
from mdh_creds.wrapped.answer import document
from mdh_creds.wrapped.identity import CHAIN_VARIABLE, in_chain, wrap_identity
from mdh_creds.wrapped.keys import KEYRING_NAME, parse_key, read_key_file

_CHECKS = {
    "--command-timeout": values.bounded_float(0.1, 3600.0),
    "--default-lifetime": values.bounded_int(60, 43_200),
}


def try_serve(
    argv: Sequence[str],
    environ: Mapping[str, str],
    stdout: TextIO | None,
    stderr: TextIO | None = None,
) -> int | None:
    """Print the cached credentials and return 0, or ``None`` to let the full command run."""
    started = time.monotonic()
    try:
        log_json = _logs_json(environ)
        text, cache = _cached_document(argv, environ)
    except Exception:  # any surprise: the full command runs and reports it
        return None
    if stdout is None:
        return None
    try:
        stdout.write(text + "\n")
        stdout.flush()
    except (OSError, ValueError):
        return None
    if log_json and stderr is not None:
        stderr.write(_hit_line(cache, started) + "\n")
    return 0


def parse_command_line(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """``(name, CMD)`` of a plain ``wrap`` command line; ``_NotHere`` for anything else."""
    words = list(argv)
    if words[:1] != ["wrap"] or "--" not in words:
        raise _NotHere("not a plain wrap")
    split = words.index("--")
    options, command = words[1:split], words[split + 1 :]
    name = None
    while options:
        flag, value = options[0], options[1] if len(options) > 1 else ""
        flag, sep, joined = flag.partition("=")
        value = joined if sep else value
        if not value or value.startswith("-") or flag not in ("--name", *_CHECKS):
            raise _NotHere("an option the fast path does not handle")
        if flag == "--name":
            name = value
        else:
            _CHECKS[flag](value)  # a bad value: the full command says so
        options = options[1:] if sep else options[2:]
    if not command:
        raise _NotHere("no command: the full command says so")
    return name, command


def _sealer(settings: Mapping[str, Any], environ: Mapping[str, str], folder: str) -> Sealer:
    if settings["kms_key_id"]:
        material = load_material(material_path(environ, settings["kms_key_id"]))
        if material is None:
            raise _NotHere("no sealing material kept: the full command asks KMS")
        return Sealer.for_kms_material(material)
    key = read_key_file(folder)
    if key is None and _pinned_secret_service(environ, folder):
        key = parse_key(_secret_service_item(KEYRING_NAME))
    if key is None:
        raise _NotHere("no sealing key at hand: the full command finds or makes it")
    return Sealer.from_entry_key(key)


def _cached_document(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, str]:
    if environ.get(specs.GUARD_VARIABLE) or environ.get("MDH_ENV_FILE"):
        raise _NotHere("nested run or .env file")
    name, command = parse_command_line(argv)
    if in_chain(environ.get(CHAIN_VARIABLE, ""), command):
        raise _NotHere("a loop: the full command refuses it")
    settings = read_settings(environ, {}, "no profile")
    folder = str(settings["cache_dir"] or specs.default_cache_dir(environ))
    key = CacheKey.for_identity(wrap_identity(command, name), KIND_CREDENTIALS)
    stored = _stored_entry(settings, environ, folder, key.name)
    now = time.time()
    payload = _sealer(settings, environ, folder).open(key, live_body(stored, now))
    if payload is None:
        raise _NotHere("no entry")
    return _fresh_document(payload, now, float(settings["refresh_window"])), settings["cache"]


def _fresh_document(payload: Mapping[str, Any], now: float, window: float) -> str:
    expires_at, issued_at = float(payload["ExpiresEpoch"]), float(payload["IssuedEpoch"])
    skew = float(payload.get("Skew", 0.0))
    if (
        judge(expires_at, issued_at, skew, window, now, min_left=SDK_MIN_LEFT)
        is not Freshness.FRESH
    ):
        raise _NotHere("stale or expired: the full command refreshes")
    key_id, secret, token = (payload[n] for n in ("AccessKeyId", "SecretAccessKey", "SessionToken"))
    if not (isinstance(key_id, str) and key_id and isinstance(secret, str) and secret):
        raise _NotHere("malformed entry")
    if not isinstance(token, str):
        raise _NotHere("malformed entry")
    local_expiry = to_local_seconds(expires_at, issued_at, skew)
    expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(local_expiry)))
    return document(key_id, secret, token, expiration)
