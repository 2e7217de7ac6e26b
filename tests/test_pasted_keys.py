"""A private key pasted where a path or a name belongs (DESIGN 6): refused with exit 3, naming the
setting and where it came from, never echoed (not in the error, not by ``status``, not in a
``repr``), and never written into the AWS config file by ``configure``."""

from __future__ import annotations

import argparse
import io

import pytest

from conftest import World
from mdh_creds.cli.context import Context
from mdh_creds.settings.model import parse_settings
from mdh_creds.settings.pasted import looks_like_key


def key_shapes(world: World) -> dict[str, str]:
    """The ways users paste a key: PEM on one line, with literal ``\\n``, or its bare body."""
    pem = world.account.key_pair.private_pem.strip()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return {
        "one line": " ".join(pem.splitlines()),
        "literal newlines": "\\n".join(pem.splitlines()),
        "body only": body,
    }


def secret_parts(world: World) -> list[str]:
    pem = world.account.key_pair.private_pem
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def assert_no_key(world: World, *texts: str) -> None:
    for text in texts:
        for part in secret_parts(world):
            assert part not in text
            assert part[:24] not in text


@pytest.mark.parametrize("shape", ["one line", "literal newlines", "body only"])
@pytest.mark.parametrize(
    "where", ["mdh_private_key_file", "mdh_cache_dir", "mdh_service_account", "env"]
)
def test_a_pasted_key_is_refused_and_never_echoed(world: World, shape: str, where: str) -> None:
    pasted = key_shapes(world)[shape]
    env: dict[str, str] = {}
    if where == "env":
        env["MDH_PRIVATE_KEY_FILE"] = pasted
        source = "MDH_PRIVATE_KEY_FILE"
    else:
        world.write_profile(**{where: pasted})
        source = f"{where} in profile mdh"
    for args in (["process"], ["status"], ["status", "--json"], ["clear"]):
        result = world.main(*args, **env)
        assert result.code == 3, (args, result.err)
        assert "this looks like a key, not a" in result.err, result.err
        assert source in result.err
        assert len(result.err.splitlines()) == 1
        assert_no_key(world, result.out, result.err)
    assert world.emulator.count("token") == 0


def test_the_real_process_refuses_too(world: World) -> None:
    """The console script (fast path first) gives the same refusal."""
    world.write_profile(mdh_private_key_file=key_shapes(world)["one line"])
    result = world.run("process")
    assert result.code == 3
    assert "looks like a key, not a path" in result.err
    assert_no_key(world, result.out, result.err)


@pytest.mark.parametrize("shape", ["one line", "literal newlines", "body only"])
def test_configure_never_writes_a_key_into_the_config_file(world: World, shape: str) -> None:
    before = world.config.read_bytes()
    pasted = key_shapes(world)[shape]
    result = world.main("configure", "--profile", "mdh", "--private-key-file", pasted)
    assert result.code == 3, result.err
    assert "this looks like a key, not a path" in result.err
    assert_no_key(world, result.out, result.err)
    assert world.config.read_bytes() == before
    fresh = world.tmp / "fresh-config"
    result = world.main(
        "configure", "--profile", "x", "--service-account", pasted, AWS_CONFIG_FILE=str(fresh)
    )
    assert result.code == 3
    assert not fresh.exists()


def test_repr_of_settings_and_context_holds_no_key(world: World) -> None:
    pem = world.account.key_pair.private_pem
    settings = parse_settings(world.env(MDH_PRIVATE_KEY=pem), {})
    assert settings.private_key == pem.strip()
    args = argparse.Namespace(private_key_file=pem, command="process")
    context = Context(args, world.env(MDH_PRIVATE_KEY=pem), io.StringIO(), io.StringIO())
    shown = [repr(settings), repr(settings.items["private_key"]), repr(context)]
    shown += [repr(item) for item in settings.items.values()]
    assert "****" in repr(settings.items["private_key"])
    assert_no_key(world, *shown)


def test_what_looks_like_a_key(world: World) -> None:
    for pasted in key_shapes(world).values():
        assert looks_like_key(pasted)
    for name in ("~/.config/mdh/service-account.pem", "/tmp/a b/key.pem", "MyDataHelps.1.app"):
        assert not looks_like_key(name)
    assert not looks_like_key("C:\\Users\\me\\MIIlocal\\key.pem")
