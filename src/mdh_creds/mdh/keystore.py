"""The service account's private key loaded (a variable, a file or the OS keyring), its secrets
kept in the OS keyring, and where an encrypted key's passphrase comes from.

The keyring holds, under service ``mdh-creds`` (``cache.stored`` names the entries):
``private-key-NAME``, a key that ``mdh_private_key_keyring = NAME`` points at
(``configure --key-to-keyring``), and ``passphrase-DIGEST``, the passphrase of the encrypted key
whose digest it names (``configure --store-passphrase``). The keyring is reached as the keyring
cache reaches it (``cache.keyring``: the pinned backend, never a prompt).

A passphrase comes from ``MDH_PRIVATE_KEY_PASSPHRASE``, else the OS keyring, else the terminal,
and the terminal only when the command may ask (``configure``, ``status``): a credential helper
has no terminal, so ``process`` and every other surface get a clear error instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mdh_creds.cache.stored import keyring_key_name, keyring_passphrase_name
from mdh_creds.errors import CacheUnavailable, ConfigError
from mdh_creds.mdh.keys import (
    PassphraseLookup,
    PrivateKey,
    load_private_key_file,
    parse_private_key,
)
from mdh_creds.settings.model import Settings

if TYPE_CHECKING:
    from mdh_creds.cache.keyring import KeyringCache

Prompt = Callable[[str], str]  # asks on the terminal, without echo (``getpass``)
_log = logging.getLogger(__name__)


def open_keyring(settings: Settings, environ: Mapping[str, str]) -> KeyringCache:
    """The OS keyring as the keyring cache uses it; ``CacheUnavailable`` says why not."""
    from mdh_creds.cache.keyring import KeyringCache

    return KeyringCache(settings.cache_folder(environ), environ=environ)


def load_keyring_secret(settings: Settings, environ: Mapping[str, str], name: str) -> str | None:
    """The secret kept under ``name``; ``None`` when there is none or no keyring answers."""
    try:
        return open_keyring(settings, environ).load_secret(name)
    except CacheUnavailable as exc:
        _log.debug("no keyring to look up %s in: %s", name, exc)
        return None


def passphrase_lookup(
    settings: Settings, environ: Mapping[str, str], prompt: Prompt | None = None
) -> PassphraseLookup:
    """Find the passphrase of an encrypted key: the variable, the keyring, then ``prompt``."""

    def lookup(encrypted: str) -> tuple[str, str]:
        if settings.private_key_passphrase:
            return settings.private_key_passphrase, settings.source("private_key_passphrase")
        stored = load_keyring_secret(settings, environ, keyring_passphrase_name(encrypted))
        if stored:
            return stored, "the OS keyring"
        if prompt is None:
            raise ValueError(no_passphrase_advice(settings))
        given = prompt("Passphrase of the MDH service account's private key: ")
        if not given:
            raise ValueError("is encrypted and no passphrase was given")
        return given, "the terminal"

    return lookup


def no_passphrase_advice(settings: Settings) -> str:
    """What to do about an encrypted key with no passphrase at hand (phrased to follow "the
    private key from SOURCE")."""
    return (
        "is encrypted and no passphrase was found: set MDH_PRIVATE_KEY_PASSPHRASE, or keep it "
        f"in the OS keyring with mdh-creds configure --profile {settings.profile} "
        "--store-passphrase (a credential_process has no terminal to ask on)"
    )


def load_private_key(
    settings: Settings, environ: Mapping[str, str], prompt: Prompt | None = None
) -> PrivateKey | None:
    """The private key from a variable, a file or the OS keyring, in that order; ``prompt``
    may ask for an encrypted key's passphrase."""
    lookup = passphrase_lookup(settings, environ, prompt)
    if settings.private_key:
        return parse_private_key(settings.private_key, settings.source("private_key"), lookup)
    if settings.private_key_file:
        source = settings.source("private_key_file")
        return load_private_key_file(settings.private_key_file, source, lookup)
    name = settings.private_key_keyring
    if not name:
        return None
    text = load_keyring_secret(settings, environ, keyring_key_name(name))
    if text is None:
        raise ConfigError(
            f"the OS keyring holds no private key {name!r} (mdh_private_key_keyring from "
            f"{settings.source('private_key_keyring')}): run mdh-creds configure --profile "
            f"{settings.profile} --private-key-file KEY.pem --key-to-keyring"
        )
    return parse_private_key(text, f"the OS keyring entry {name!r}", lookup)
