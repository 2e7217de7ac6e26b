"""The console script's cache-hit fast path: it answers exactly as the full command does, loads
none of the full command's modules, and hands every other case to the full command."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from conftest import HEAVY, Result, World, wait_for
from mdh_creds.testing.proxy import CountingProxy
from servers import MotoServer

# What a hit must not load: heavy libraries, the modules the fast path was written to avoid
# (``HEAVY``), and any module of ours outside the light set below.
LIGHT = {
    "mdh_creds",
    "mdh_creds.cache",
    "mdh_creds.cache.choice",
    "mdh_creds.cache.folder",
    "mdh_creds.cache.material",
    "mdh_creds.cache.stored",
    "mdh_creds.cli",
    "mdh_creds.cli.console",
    "mdh_creds.cli.fastcache",
    "mdh_creds.cli.fastpath",
    "mdh_creds.cli.logline",
    "mdh_creds.crypto",
    "mdh_creds.formats",
    "mdh_creds.freshness",
    "mdh_creds.mdh",
    "mdh_creds.mdh.memo",
    "mdh_creds.mdh.pem",
    "mdh_creds.settings",
    "mdh_creds.settings.ini",
    "mdh_creds.settings.pasted",
    "mdh_creds.settings.profiles",
    "mdh_creds.settings.sources",
    "mdh_creds.settings.specs",
    "mdh_creds.settings.typos",
    "mdh_creds.settings.values",
    "mdh_creds.version",
}
# A keyring hit imports SecretStorage, whose ``dhcrypto`` imports hashlib: that one is excused,
# as long as no module of ours holds hashlib.
PROBE = (
    "import sys; from mdh_creds.cli.console import main; sys.argv = ['mdh-creds', *sys.argv[1:]]; "
    "code = main(); "
    "own = [m for m in list(sys.modules) if m.startswith('mdh_creds')]; "
    "excused = {'hashlib'} if 'secretstorage.dhcrypto' in sys.modules and not any("
    "hasattr(sys.modules[m], 'hashlib') for m in own) else set(); "
    f"heavy = [m for m in {HEAVY!r} if m in sys.modules and m not in excused]; "
    f"ours = [m for m in sys.modules if m.startswith('mdh_creds') and m not in {LIGHT!r}]; "
    "sys.stderr.write('LOADED=' + repr(sorted(heavy + ours))); "
    "raise SystemExit(code)"
)


def run_script(world: World, *args: str, **env: str) -> tuple[Result, list[str]]:
    """Run the console script's entry point; return its result and the heavy modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=world.env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    err, _, loaded = done.stderr.rpartition("LOADED=")
    return Result(done.returncode, done.stdout, err), eval(loaded)


def test_file_hit_is_served_without_the_full_command(world: World) -> None:
    first = world.run("process")
    assert first.code == 0, first.err
    result, loaded = run_script(world, "process", "--profile", "mdh")
    assert result.code == 0 and result.err == ""
    assert loaded == []
    assert result.out == first.out
    assert world.emulator.count("exchange") == 1


def test_keyring_hit_is_served_without_the_keyring_library(
    world: World, keyring_env: dict[str, str]
) -> None:
    world.write_profile(mdh_cache="keyring", mdh_scope=f"api {uuid.uuid4().hex}")
    world.extra_env.update(keyring_env)
    first = world.run("process")
    assert first.code == 0, first.err
    result, loaded = run_script(world)
    assert result.code == 0, result.err
    assert loaded == []
    assert result.out == first.out


def test_dynamodb_hit_is_served_from_the_local_copy_without_boto3_or_a_request(
    world: World, moto: MotoServer, dynamodb_table: Any
) -> None:
    _client, table = dynamodb_table
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=table)
    with CountingProxy(moto.url) as proxy:
        world.extra_env.update(moto.env, AWS_ENDPOINT_URL=proxy.url)
        first = world.run("process")
        assert first.code == 0, first.err
        assert proxy.counts()["PutItem"] >= 1  # the entry went to the table
        proxy.reset()
        result, loaded = run_script(world, "process", "--profile", "mdh")
        assert proxy.records() == []
    assert result.code == 0 and result.err == ""
    assert loaded == []
    assert result.out == first.out
    assert world.emulator.count("exchange") == 1


@pytest.mark.parametrize(
    ("change", "env", "code", "message"),
    [
        ({}, {"MDH_RETRIES": "abc"}, 3, "mdh_retries"),
        ({"mdh_timeout": "0"}, {}, 3, "mdh_timeout"),
        ({}, {"MDH_ENV_FILE": "/nonexistent/.env"}, 3, ".env"),
        ({"mdh_cache": "none"}, {}, 0, ""),
        ({"mdh_cahce": "file"}, {}, 0, "unknown key mdh_cahce in profile mdh of "),
    ],
    ids=["bad-env-number", "bad-profile-number", "env-file", "no-cache", "misspelt-key"],
)
def test_other_cases_go_to_the_full_command(
    world: World, change: dict[str, str], env: dict[str, str], code: int, message: str
) -> None:
    assert world.run("process").code == 0
    world.write_profile(**change)
    result, loaded = run_script(world, "process", **env)
    assert result.code == code, result.err
    assert message in result.err
    assert "mdh_creds.cli.main" in loaded


def test_loose_key_permissions_still_warn(world: World) -> None:
    assert world.run("process").code == 0
    world.account.key_file.chmod(0o644)
    result, loaded = run_script(world, "process")
    assert result.code == 0
    assert "readable by group or others" in result.err
    assert "mdh_creds.cli.main" in loaded


@pytest.mark.slow
def test_stale_entry_is_refreshed_by_the_full_command(world: World) -> None:
    world.emulator.credential_lifetime = 6  # window min(1200, 6 / 3): fresh for 4 s, stale for 2
    first = world.run("process")
    assert first.code == 0, first.err
    wait_for(lambda: world.state() == "stale", "the cached credentials to be stale", every=0.1)
    result, loaded = run_script(world, "process")
    assert result.code == 0, result.err
    assert "mdh_creds.cli.main" in loaded
    assert world.emulator.count("exchange") == 2
    assert result.out != first.out
