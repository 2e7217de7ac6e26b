"""The cache hit of ``mdh-creds process`` with the fewest imports: find the entry, open it, print.

It reads settings, the identity and the entry's name through the same functions as the full
command (``settings.sources``, ``settings.profiles``, ``cache.stored``), but handles only the plain
case: ``process`` with at most ``--profile`` (an mdh profile, or a role chained on one with
``mdh_*`` keys: the last hop's entry, ``roles.chain``), no unknown ``mdh_*`` key, the file cache, a
DynamoDB entry's local copy, or the keyring cache on a pinned Secret Service; a key from the
environment, a private key file or a pinned Secret Service (opened with its passphrase from the
environment or that keyring when it is encrypted), or a KMS key whose sealing material is kept
(``cache.material``); and a fresh entry. Anything else returns ``None`` and the
full command runs, which gives the same answer (and every error message).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from mdh_creds.cache.stored import (
    KIND_CREDENTIALS,
    CacheKey,
    identity,
    keyring_key_name,
    keyring_passphrase_name,
    live_body,
)
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
from mdh_creds.formats import process_json
from mdh_creds.mdh.pem import decrypt_pem, encrypted_pem, normalise_pem
from mdh_creds.settings import specs, values
from mdh_creds.settings.profiles import load_profile
from mdh_creds.settings.sources import config_file, profile_region, select_profile
from mdh_creds.settings.typos import unknown_keys

if TYPE_CHECKING:
    from mdh_creds.roles.chain import Chain

_MAX_KEY_BYTES = 64 * 1024


def try_serve(
    argv: Sequence[str],
    environ: Mapping[str, str],
    stdout: TextIO | None,
    stderr: TextIO | None = None,
) -> int | None:
    """Print the cached credentials and return 0, or ``None`` to let the full command run.

    With ``MDH_LOG_FORMAT=json`` a ``cache hit`` line goes to ``stderr``, as the full command
    would log it."""
    return serve(lambda: _cached_document(argv, environ), environ, stdout, stderr, __name__)


def _profile_flag(argv: Sequence[str]) -> str | None:
    """The ``--profile`` value of a plain ``[process] [--profile P]`` command line."""
    args, profile = list(argv), None
    if args[:1] == ["process"]:
        args = args[1:]
    if len(args) == 2 and args[0] == "--profile":
        profile = args[1]
    elif len(args) == 1 and args[0].startswith("--profile="):
        profile = args[0].split("=", 1)[1]
    elif args:
        raise NotHere("options the fast path does not handle")
    if len(args) == 2 and profile is not None and profile.startswith("-"):
        raise NotHere("argparse takes '--profile -x' for two options: the full command says so")
    return profile or None


def entry_identity(settings: Mapping[str, Any]) -> dict[str, str]:
    """The identity of the entry, as ``mdh.account.ServiceAccount.identity`` builds it."""
    exchange = specs.resolve_exchange_url(
        settings["exchange_url"], settings["project_id"], settings["project_code"]
    )
    if exchange is None or not settings["service_account"]:
        raise NotHere("incomplete settings: the full command explains")
    return identity(
        service_account=settings["service_account"],
        token_url=settings["token_url"],
        exchange_url=exchange,
        project_id=settings["project_id"],
        project_code=settings["project_code"],
        scope=settings["scope"],
    )


def _key_sealer(settings: Mapping[str, Any], environ: Mapping[str, str], folder: str) -> Sealer:
    """The sealer the full command's account builds (``mdh.account``), from what is at hand."""
    if settings["kms_key_id"]:
        if (
            settings["private_key"]
            or settings["private_key_file"]
            or settings["private_key_keyring"]
        ):
            raise NotHere("a KMS key and a private key: the full command refuses")
        from mdh_creds.cache.material import load_material, material_path  # KMS only

        material = load_material(material_path(environ, settings["kms_key_id"]))
        if material is None:
            raise NotHere("no sealing material kept: the full command asks KMS")
        return Sealer.for_kms_material(material)
    text = _key_text(settings, environ, folder)
    encrypted = encrypted_pem(text)
    if encrypted is None:
        return Sealer(normalise_pem(text)[2])
    passphrase = settings["private_key_passphrase"]
    if passphrase is None and pinned_secret_service(environ, folder):
        passphrase = secret_service_item(keyring_passphrase_name(encrypted))
    if passphrase is None:
        raise NotHere("no passphrase at hand: the full command explains")
    return Sealer(decrypt_pem(encrypted, passphrase)[2])


def _key_text(settings: Mapping[str, Any], environ: Mapping[str, str], folder: str) -> str:
    text = settings["private_key"]
    if text is None and settings["private_key_file"] is None:
        if not settings["private_key_keyring"] or not pinned_secret_service(environ, folder):
            raise NotHere("no key the fast path reads")
        return secret_service_item(keyring_key_name(settings["private_key_keyring"]))
    if text is None:
        path = settings["private_key_file"]
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise NotHere("not a regular file: the full command says so")
        if os.name == "posix" and info.st_mode & 0o077:
            raise NotHere("loose permissions: the full command warns about them")
        if info.st_size > _MAX_KEY_BYTES:
            raise NotHere("not a key file")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    return str(text)


def _sealer(
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    region: str | None,
    folder: str,
    now: float,
) -> tuple[Sealer, Mapping[str, Any]]:
    """What opens the entry, and the settings completed as the full command completes them:
    from the key, or for an account in Secrets Manager, from this machine's memo of the secret
    (``mdh.memo``; none or too old: the full command reads the secret)."""
    whole = settings["service_account"] and any(
        settings[name]
        for name in ("private_key", "private_key_file", "private_key_keyring", "kms_key_id")
    )
    if not settings["secret_id"] or whole:
        return _key_sealer(settings, environ, folder), settings
    from mdh_creds.mdh.memo import load_memo, secret_scope  # only a secret's hit needs it

    scope = secret_scope(settings["secret_id"], settings["aws_profile"], region, environ)
    names, entry_key = load_memo(folder, scope, now)
    filled = dict(settings)
    for name, value in names.items():
        if filled[name] is None:  # what Settings.with_values does with the secret's values
            filled[name] = value
    return Sealer.from_entry_key(entry_key), filled


def _cached_document(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, str]:
    """The process JSON of a fresh cached entry, and the cache it came from."""
    if environ.get(specs.GUARD_VARIABLE) or environ.get("MDH_ENV_FILE"):
        raise NotHere("nested run or .env file")
    profile = _profile_flag(argv) or select_profile({}, environ)
    path = config_file(environ)
    profile_keys = load_profile(path, profile) or {}
    chain, root, root_keys = _chain_root(path, profile, profile_keys)
    if unknown_keys(profile_keys) or unknown_keys(root_keys):
        raise NotHere("a misspelt mdh_ key: the full command warns about it")
    settings = read_settings(environ, root_keys, f"profile {root} of {path}")
    folder = str(settings["cache_dir"] or specs.default_cache_dir(environ))
    if settings["client_id"] or settings["client_secret"]:
        raise NotHere("an API client: the full command explains")
    now = time.time()
    region = profile_region(environ, root_keys)
    sealer, account = _sealer(settings, environ, region, folder, now)
    key = CacheKey.for_identity(entry_identity(account), KIND_CREDENTIALS)
    for hop in chain.hops if chain is not None else ():  # each hop's entry: ``roles.chain``
        key = CacheKey.for_identity(hop.identity(key.digest), KIND_CREDENTIALS)
    stored = stored_entry(settings, environ, folder, key.name)
    payload = sealer.open(key, live_body(stored, now))
    if payload is None:
        raise NotHere("no entry")
    account_id = profile_keys.get("aws_account_id") or None
    if account_id is not None:
        account_id = values.parse_account_id(account_id)  # invalid: the full command explains
    document = _fresh_document(payload, now, float(settings["refresh_window"]), account_id)
    return document, settings["cache"]


def _chain_root(
    path: str, profile: str, keys: Mapping[str, str]
) -> tuple[Chain | None, str, Mapping[str, str]]:
    """A role profile's chain, its root and the root's keys (a plain profile: no chain, the
    profile itself). Only a root with ``mdh_*`` keys: the full command judges any other."""
    if "role_arn" not in keys:
        return None, profile, keys
    from mdh_creds.roles.chain import load_profiles, read_chain

    profiles = load_profiles(path)
    chain = read_chain(profiles, profile)  # a broken chain raises: the full command explains
    if chain is None or not any(key.startswith("mdh_") for key in profiles[chain.root]):
        raise NotHere("a chain the full command resolves or refuses")
    return chain, chain.root, profiles[chain.root]


def _fresh_document(
    payload: Mapping[str, Any], now: float, window: float, account_id: str | None = None
) -> str:
    key_id, secret, token, expiration = fresh_fields(payload, now, window)
    if not all(isinstance(value, str) and value for value in (key_id, secret, token)):
        raise NotHere("malformed entry")
    return process_json(key_id, secret, token, expiration, account_id)
