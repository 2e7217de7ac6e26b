"""The fast path and the full command read the same settings, the same identity and the same entry
name for any environment and profile: a differential property test over the shared functions."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Result, World
from mdh_creds.cache.stored import KIND_CREDENTIALS, CacheKey
from mdh_creds.cli import fastcache, fastpath
from mdh_creds.errors import ConfigError
from mdh_creds.mdh.account import ServiceAccount, exchange_url_for
from mdh_creds.mdh.keys import parse_private_key
from mdh_creds.settings.model import Settings, parse_settings
from mdh_creds.settings.specs import SPECS
from mdh_creds.testing.keys import generate_key_pair

KEY = parse_private_key(generate_key_pair().private_pem, "test")
ORIGIN = "profile default of config"
SAMPLES = [
    "https://designer.mydatahelps.org/identityserver/connect/token",
    "http://127.0.0.1:8080/token",
    "http://[::1]:9/t",
    "http://example.com/token",
    "https://x/{project_id}/token",
    "ftp://x",
    "https://user:pw@host/",
    "3",
    " 7 ",
    "-1",
    "10.5",
    "nan",
    "abc",
    "file",
    "KEYRING",
    "none",
    "memory",
    "~/keys/k.pem",
    "~nosuchuser1234/k.pem",
    "/tmp/a b",
    "RK.12345.Project",
    "proj/ect",
    "p-42",
    "MyDataHelps.12345.app",
    "mdh-creds-cache",
    "ab",
    "",
    "   ",
    "é",
]
TEXT = st.sampled_from(SAMPLES) | st.text(max_size=12)
VARIABLES = sorted(
    {var for spec in SPECS for var in spec.env} - {"MDH_PRIVATE_KEY", "RKS_PRIVATE_KEY"}
)
PROFILE_KEYS = sorted(spec.key for spec in SPECS if spec.in_profile)


def full_values(environ: dict[str, str], keys: dict[str, str]) -> Settings | None:
    try:
        return parse_settings(environ, {}, profile_keys=keys)
    except ConfigError:
        return None


def fast_values(environ: dict[str, str], keys: dict[str, str]) -> dict[str, Any] | None:
    try:
        return fastcache.read_settings(environ, keys, ORIGIN)
    except ConfigError:
        return None


def full_identity(found: Settings) -> dict[str, str] | None:
    if not found.service_account:
        return None
    try:
        exchange = exchange_url_for(found)
    except ConfigError:
        return None
    return ServiceAccount(found, KEY, exchange, found.service_account).identity


def fast_identity(found: dict[str, Any]) -> dict[str, str] | None:
    try:
        return fastpath.entry_identity(found)
    except (fastcache.NotHere, ValueError):
        return None


@settings(max_examples=400, deadline=None)
@given(
    environ=st.dictionaries(st.sampled_from(VARIABLES), TEXT, max_size=6),
    keys=st.dictionaries(st.sampled_from(PROFILE_KEYS), TEXT, max_size=6),
)
def test_fast_and_full_paths_read_the_same_settings_and_identity(
    environ: dict[str, str], keys: dict[str, str]
) -> None:
    full, fast = full_values(environ, keys), fast_values(environ, keys)
    assert (full is None) == (fast is None)
    if full is None or fast is None:
        return
    assert {name: item.value for name, item in full.items.items()} == fast
    identity = full_identity(full)
    assert identity == fast_identity(fast)
    if identity is not None:
        names = {CacheKey.for_identity(identity, KIND_CREDENTIALS).name}
        names.add(CacheKey.for_identity(fast_identity(fast) or {}, KIND_CREDENTIALS).name)
        assert len(names) == 1


# --- the console script (fast path first) and the full command give the same answer --------


def both(world: World, *args: str, **env: str) -> tuple[Result, Result]:
    """The console script as a real process, and the full command alone, in this process."""
    return world.run(*args, **env), world.main(*args, **env)


def test_a_profile_named_like_an_option(world: World) -> None:
    """``--profile --version`` is a usage error for argparse: the fast path must not serve
    the cached entry of a profile called ``--version`` instead."""
    text = world.config.read_text().replace("[profile mdh]", "[profile --version]")
    world.config.write_text(text)
    served = world.run("process", "--profile=--version")
    assert served.code == 0, served.err
    script, full = both(world, "--profile", "--version")
    assert (script.code, script.out, script.err) == (full.code, full.out, full.err)
    assert full.code == 2 and "expected one argument" in full.err
    script, full = both(world, "--profile=--version")
    assert script.code == full.code == 0 and script.out == served.out


def test_an_unknown_user_in_the_cache_folder(world: World) -> None:
    first = world.run("process")
    assert first.code == 0
    world.write_profile(mdh_cache_dir="~nosuchuser-mdh-creds/cache")
    script, full = both(world, "process")
    assert (script.code, script.out, script.err) == (full.code, full.out, full.err)
    assert full.code == 3 and "its ~user part names no known user" in full.err
    script, full = both(world, "process", XDG_CACHE_HOME="~nosuchuser-mdh-creds")
    assert (script.code, script.out, script.err) == (full.code, full.out, full.err)


@pytest.mark.parametrize(
    ("mode", "warning"), [(0o777, "other users can write"), (0o755, "readable")]
)
def test_a_cache_folder_open_to_others(world: World, mode: int, warning: str) -> None:
    """The full command refuses a folder others can write to and warns about one they can
    read; the fast path serves neither, so the console script says the same."""
    first = world.run("process")
    assert first.code == 0
    os.chmod(world.cache_dir, mode)
    script = world.run("process")
    full = world.main("process")
    assert script.code == full.code == 0
    assert warning in script.err and script.err == full.err
    exchanges = world.emulator.count("exchange")
    assert exchanges == (3 if mode == 0o777 else 1)  # refused: no cache; readable: still used
