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

from mdh_creds.cache.stored import KIND_CREDENTIALS, CacheKey, live_body
from mdh_creds.cli.fastcache import (
    NotHere,
    fresh_fields,
    pinned_secret_service,
    read_settings,
    secret_service_item,
    serve,
    stored_entry,
)
from mdh_creds.crypto import Sealer
from mdh_creds.settings import specs, values
from mdh_creds.wrapped.answer import document
from mdh_creds.wrapped.identity import CHAIN_VARIABLE, in_chain, wrap_identity
from mdh_creds.wrapped.keys import KEYRING_NAME, parse_key, read_key_file

_LOGGER = "mdh_creds.cli.fastpath"  # the logger both fast paths write a hit's line as
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
    return serve(lambda: _cached_document(argv, environ), environ, stdout, stderr, _LOGGER)


def parse_command_line(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """``(name, CMD)`` of a plain ``wrap`` command line; ``NotHere`` for anything else."""
    words = list(argv)
    if words[:1] != ["wrap"] or "--" not in words:
        raise NotHere("not a plain wrap")
    split = words.index("--")
    options, command = words[1:split], words[split + 1 :]
    name = None
    while options:
        flag, value = options[0], options[1] if len(options) > 1 else ""
        flag, sep, joined = flag.partition("=")
        value = joined if sep else value
        if not value or value.startswith("-") or flag not in ("--name", *_CHECKS):
            raise NotHere("an option the fast path does not handle")
        if flag == "--name":
            name = value
        else:
            _CHECKS[flag](value)  # a bad value: the full command says so
        options = options[1:] if sep else options[2:]
    if not command:
        raise NotHere("no command: the full command says so")
    return name, command


def _sealer(settings: Mapping[str, Any], environ: Mapping[str, str], folder: str) -> Sealer:
    if settings["kms_key_id"]:
        from mdh_creds.cache.material import load_material, material_path  # KMS only

        material = load_material(material_path(environ, settings["kms_key_id"]))
        if material is None:
            raise NotHere("no sealing material kept: the full command asks KMS")
        return Sealer.for_kms_material(material)
    key = read_key_file(folder)
    if key is None and pinned_secret_service(environ, folder):
        key = parse_key(secret_service_item(KEYRING_NAME))
    if key is None:
        raise NotHere("no sealing key at hand: the full command finds or makes it")
    return Sealer.from_entry_key(key)


def _cached_document(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, str]:
    if environ.get(specs.GUARD_VARIABLE) or environ.get("MDH_ENV_FILE"):
        raise NotHere("nested run or .env file")
    name, command = parse_command_line(argv)
    if in_chain(environ.get(CHAIN_VARIABLE, ""), command):
        raise NotHere("a loop: the full command refuses it")
    settings = read_settings(environ, {}, "no profile")
    folder = str(settings["cache_dir"] or specs.default_cache_dir(environ))
    key = CacheKey.for_identity(wrap_identity(command, name), KIND_CREDENTIALS)
    stored = stored_entry(settings, environ, folder, key.name)
    now = time.time()
    payload = _sealer(settings, environ, folder).open(key, live_body(stored, now))
    if payload is None:
        raise NotHere("no entry")
    return _fresh_document(payload, now, float(settings["refresh_window"])), settings["cache"]


def _fresh_document(payload: Mapping[str, Any], now: float, window: float) -> str:
    key_id, secret, token, expiration = fresh_fields(payload, now, window)
    if not (isinstance(key_id, str) and key_id and isinstance(secret, str) and secret):
        raise NotHere("malformed entry")
    if not isinstance(token, str):
        raise NotHere("malformed entry")
    return document(key_id, secret, token, expiration)
