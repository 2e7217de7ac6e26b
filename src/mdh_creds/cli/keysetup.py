"""``configure``'s steps that keep the service account's key off disk: check a key file (asking
for its passphrase on the terminal when it is encrypted), ``--store-passphrase`` (the passphrase
into the OS keyring), ``--key-to-keyring`` (a PEM file's key into the OS keyring; the file is
removed only when the user says so on the terminal) and, for ``--kms-key-id``, the KMS key's
public key printed as the PEM that MDH's console registers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from mdh_creds.cache.stored import keyring_key_name, keyring_passphrase_name
from mdh_creds.cli.context import Context, terminal_prompt
from mdh_creds.errors import CacheUnavailable, ConfigError, PrivateKeyError
from mdh_creds.mdh.keys import PrivateKey, load_private_key_file
from mdh_creds.mdh.keystore import open_keyring, passphrase_lookup
from mdh_creds.mdh.pem import decrypt_pem, encrypted_pem
from mdh_creds.redact import register_secret
from mdh_creds.settings.model import Settings, parse_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store-passphrase",
        action="store_true",
        default=None,
        help="keep the encrypted key's passphrase in the OS keyring (asked on the terminal, "
        "else read from MDH_PRIVATE_KEY_PASSPHRASE or one line of stdin)",
    )
    parser.add_argument(
        "--key-to-keyring",
        action="store_true",
        default=None,
        help="move the key of --private-key-file into the OS keyring (the file is deleted "
        "only if you say so)",
    )


def profile_settings(ctx: Context, profile: str) -> Settings:
    """The profile's settings as they stand, with the command's flags over them."""
    return parse_settings(ctx.environ, {**ctx.flags, "profile": profile}, warn_unknown=False)


def check_key_file(ctx: Context, profile: str, path: str | None) -> PrivateKey | None:
    """The key file given must hold an RSA private key, opened when encrypted (exit 3)."""
    if path is None:
        return None
    from mdh_creds.mdh.keys import load_signing_key

    def lookup(encrypted: str) -> tuple[str, str]:
        settings = profile_settings(ctx, profile)
        return passphrase_lookup(settings, ctx.environ, terminal_prompt())(encrypted)

    key = load_private_key_file(Path(path), "flag --private-key-file", lookup)
    load_signing_key(key)
    return key


def move_key(
    ctx: Context, profile: str, wanted: dict[str, str], key: PrivateKey | None
) -> Path | None:
    """With ``--key-to-keyring``: the key into the keyring, its name into ``wanted``; the file
    moved from (still on disk), else ``None``."""
    if not ctx.flags.get("key_to_keyring"):
        return None
    settings = profile_settings(ctx, profile)
    wanted["mdh_private_key_keyring"] = key_to_keyring(ctx, settings, key)
    wanted.pop("mdh_private_key_file", None)
    return settings.private_key_file


def after_profile_written(
    ctx: Context, profile: str, wanted: Mapping[str, str], moved: Path | None
) -> None:
    """The steps after the profile is written: the passphrase kept, the key file offered for
    deletion, the KMS public key printed."""
    if ctx.flags.get("store_passphrase"):
        store_passphrase(ctx, profile_settings(ctx, profile))
    if moved is not None:
        offer_to_delete(ctx, moved)
    if "mdh_kms_key_id" in wanted:
        print_public_key(ctx, profile_settings(ctx, profile))


def _key_text(settings: Settings) -> tuple[str, str]:
    """The configured key's text and where it came from (a file or a variable)."""
    if settings.private_key:
        return settings.private_key, settings.source("private_key")
    if settings.private_key_file:
        path = settings.private_key_file
        try:
            return path.read_text(encoding="utf-8"), f"file {path}"
        except (OSError, UnicodeDecodeError):
            raise PrivateKeyError(f"cannot read the private key file {path}") from None
    raise ConfigError(
        "no private key file to use: give --private-key-file KEY.pem (or set it in the profile)"
    )


def store_passphrase(ctx: Context, settings: Settings) -> None:
    """Keep the passphrase of the configured encrypted key in the OS keyring, once it opens it."""
    text, source = _key_text(settings)
    encrypted = encrypted_pem(text)
    if encrypted is None:
        raise ConfigError(f"the private key from {source} is not encrypted: no passphrase to keep")
    passphrase = settings.private_key_passphrase or _ask_or_read()
    register_secret(passphrase)
    try:
        decrypt_pem(encrypted, passphrase)
    except ValueError as exc:
        raise PrivateKeyError(f"the private key from {source} {exc}: nothing stored") from None
    _save(ctx, settings, keyring_passphrase_name(encrypted), passphrase)
    ctx.stderr.write(f"mdh-creds: kept the passphrase of the key from {source} in the OS keyring\n")


def _ask_or_read() -> str:
    prompt = terminal_prompt()
    if prompt is not None:
        given = prompt("Passphrase of the MDH service account's private key: ")
    else:  # piped in by a script: one line, its newline not part of it
        given = sys.stdin.readline().rstrip("\r\n") if sys.stdin is not None else ""
    if not given:
        raise ConfigError("no passphrase given (on the terminal or one line of stdin)")
    return given


def _save(ctx: Context, settings: Settings, name: str, value: str) -> None:
    try:
        keyring = open_keyring(settings, ctx.environ)
        keyring.save_secret(name, value)
        if keyring.load_secret(name) != value:
            raise CacheUnavailable("it did not keep what was written")
    except CacheUnavailable as exc:
        raise ConfigError(f"cannot use the OS keyring: {exc}") from None


def key_to_keyring(ctx: Context, settings: Settings, key: PrivateKey | None) -> str:
    """Copy the key file's key into the OS keyring; the name ``mdh_private_key_keyring`` takes."""
    if settings.private_key_file is None:
        raise ConfigError("--key-to-keyring needs the key file: give --private-key-file KEY.pem")
    text, _ = _key_text(settings)
    if key is None:
        key = check_key_file(ctx, settings.profile, str(settings.private_key_file))
    stored = encrypted_pem(text) or (key.pem if key else text)  # encrypted stays encrypted
    name = settings.private_key_keyring or settings.service_account or settings.profile
    _save(ctx, settings, keyring_key_name(name), stored)
    ctx.stderr.write(
        f"mdh-creds: copied the key of {settings.private_key_file} into the OS "
        f"keyring as {name!r}\n"
    )
    return name


def offer_to_delete(ctx: Context, path: Path) -> None:
    """Delete the key file only when the user says so on the terminal; otherwise say so."""
    answer = _ask_yes_no(f"Delete the key file {path} now that the OS keyring holds it? [y/N] ")
    if answer:
        path.unlink(missing_ok=True)
        ctx.stderr.write(f"mdh-creds: deleted {path}\n")
        return
    ctx.stderr.write(
        f"mdh-creds: kept {path} (nothing is removed without asking): delete it once "
        f"mdh-creds status works without it\n"
    )


def _ask_yes_no(question: str) -> bool:
    if terminal_prompt() is None or os.name == "nt":
        return False
    with open("/dev/tty", "r+", encoding="utf-8") as tty:
        tty.write(question)
        tty.flush()
        return tty.readline().strip().lower() in ("y", "yes")


def print_public_key(ctx: Context, settings: Settings) -> None:
    """The KMS key's public key on stdout, as the PEM that MDH's console asks for."""
    from mdh_creds.mdh.kms_key import kms_account_key

    pem = kms_account_key(settings, ctx.environ).kms.public_key_pem()
    ctx.stdout.write(pem)
    ctx.stderr.write(
        f"mdh-creds: the public key of KMS key {settings.kms_key_id} is on stdout: register "
        f"it for service account {settings.service_account or '(not set yet)'} in MDH's console\n"
    )
