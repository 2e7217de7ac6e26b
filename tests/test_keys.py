"""The private key in every shape MDH users paste it, from a file, and from Secrets Manager."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from conftest import World
from mdh_creds.errors import PrivateKeyError
from mdh_creds.mdh.keys import parse_private_key
from mdh_creds.testing import KeyPair


def pem_header(kind: str) -> str:
    """A PEM BEGIN line, built at run time so no tracked file looks like it holds a key."""
    return "-" * 5 + f"BEGIN {kind}" + "-" * 5


def shapes(pair: KeyPair) -> dict[str, str]:
    pkcs1 = pair.private_pem_pkcs1
    return {
        "pkcs1": pkcs1,
        "pkcs8": pair.private_pem_pkcs8,
        "one-line": pkcs1.replace("\n", " "),
        "literal-newlines": pkcs1.replace("\n", "\\n"),
        "base64-whole": base64.b64encode(pkcs1.encode()).decode(),
        "crlf": pkcs1.replace("\n", "\r\n"),
    }


@pytest.mark.parametrize(
    "shape", ["pkcs1", "pkcs8", "one-line", "literal-newlines", "base64-whole", "crlf"]
)
def test_every_pasted_shape_signs_a_valid_assertion(world: World, shape: str) -> None:
    text = shapes(world.account.key_pair)[shape]
    world.write_profile(mdh_private_key_file=None)
    result = world.main("process", MDH_PRIVATE_KEY=text)
    assert result.code == 0, result.err
    assert world.emulator.successes("token") == 1


def test_pkcs1_and_pkcs8_normalise_to_pem(mdh_key_pair: KeyPair) -> None:
    key = parse_private_key(mdh_key_pair.private_pem_pkcs8, "test")
    assert key.pem.startswith(pem_header("PRIVATE KEY") + chr(10))
    assert "pem" not in repr(key).lower().replace("privatekey(", "")


def test_an_encrypted_key_read_with_no_passphrase_lookup_says_what_to_do() -> None:
    text = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
    with pytest.raises(PrivateKeyError, match="encrypted: keep it unencrypted in the secret"):
        parse_private_key(text, "secret s")


def test_key_file_readable_by_others_is_warned_about(world: World) -> None:
    world.account.key_file.chmod(0o644)
    result = world.main("process")
    assert result.code == 0
    assert "readable by group or others" in result.err and "chmod 600" in result.err


def make_secret(moto: Any, world: World, **fields: str) -> str:
    client = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1")
    client.create_secret(Name="mdh/service-account", SecretString=json.dumps(fields))
    return "mdh/service-account"


@pytest.mark.parametrize("names", ["plain", "rks"])
def test_secrets_manager_provides_account_key_and_project(
    world: World, moto: Any, names: str
) -> None:
    pair = world.account.key_pair
    fields = {
        "plain": {
            "service_account": world.account.name,
            "private_key": pair.private_pem,
            "project_code": world.account.project_code,
        },
        "rks": {
            "RKS_SERVICE_ACCOUNT": world.account.name,
            "RKS_PRIVATE_KEY": pair.private_pem.replace("\n", "\\n"),
            "RKS_PROJECT_CODE": world.account.project_code,
        },
    }[names]
    secret_id = make_secret(moto, world, **fields)
    world.write_profile(
        mdh_service_account=None,
        mdh_private_key_file=None,
        mdh_project_code=None,
        mdh_secret_id=secret_id,
    )
    world.extra_env.update(moto.env)
    result = world.run("process")
    assert result.code == 0, result.err
    assert world.emulator.requests[-1].headers["ProjectCode"] == world.account.project_code
    status = json.loads(world.run("status", "--json").out)
    assert status["settings"]["secret_id"]["value"] == secret_id


def test_missing_secret_is_a_configuration_error(world: World, moto: Any) -> None:
    world.write_profile(mdh_private_key_file=None, mdh_secret_id="mdh/nope")
    world.extra_env.update(moto.env)
    result = world.run("process")
    assert result.code == 3
    assert "mdh/nope" in result.err and "ResourceNotFoundException" in result.err


def test_a_secret_nested_30000_deep_is_a_clean_configuration_error(world: World, moto: Any) -> None:
    client = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1")
    client.create_secret(Name="mdh/deep", SecretString="[" * 30_000 + "]" * 30_000)
    world.write_profile(mdh_private_key_file=None, mdh_secret_id="mdh/deep")
    result = world.main("process")
    assert result.code == 3, result.err
    assert result.err.count("\n") == 1 and "not a flat JSON object" in result.err
    assert "Traceback" not in result.err and "RecursionError" not in result.err


def test_a_service_account_profile_ignores_the_older_sdks_consumer_variables(
    world: World,
) -> None:
    generic = {"CONSUMER_KEY": "someone-elses-client", "CONSUMER_SECRET": "someone-elses-secret"}
    cold = world.run("process", **generic)
    assert cold.code == 0, cold.err
    warm = world.run("process", "--debug", **generic)
    assert warm.code == 0 and warm.out == cold.out
    assert "CONSUMER_KEY ignored" in warm.err and "names a service account" in warm.err
    assert "someone-elses-secret" not in warm.err
    explicit = world.main("process", MDH_CLIENT_SECRET="an-explicit-secret", MDH_CLIENT_ID="c")
    assert explicit.code == 3 and "both" in explicit.err  # explicit variables still conflict


def test_a_warm_hit_with_mdh_secret_id_makes_no_aws_call(world: World, moto: Any) -> None:
    from mdh_creds.testing.proxy import CountingProxy

    pair = world.account.key_pair
    fields = {"service_account": world.account.name, "private_key": pair.private_pem}
    secret_id = make_secret(moto, world, **fields)
    world.write_profile(
        mdh_private_key_file=None, mdh_service_account=None, mdh_secret_id=secret_id
    )
    with CountingProxy(moto.url) as proxy:
        env = {**moto.env, "AWS_ENDPOINT_URL": proxy.url_for("machine")}
        cold = world.run("process", **env)
        assert cold.code == 0, cold.err
        assert proxy.counts("machine")["GetSecretValue"] == 1
        memo = list(world.cache_dir.glob("secret-*.json"))
        assert len(memo) == 1 and oct(memo[0].stat().st_mode & 0o777) == "0o600"
        assert pair.private_pem.splitlines()[1] not in memo[0].read_text()  # never the key
        proxy.reset()
        warm = world.run("process", MDH_LOG_FORMAT="json", **env)
        assert warm.code == 0 and warm.out == cold.out
        assert "fast path" in warm.err
        assert proxy.records() == []  # no GetSecretValue, no AWS call at all
    assert world.emulator.count("exchange") == 1


def test_status_shows_the_secret_memo_and_clear_removes_it(world: World, moto: Any) -> None:
    import os
    import shutil

    fields = {
        "service_account": world.account.name,
        "private_key": world.account.key_pair.private_pem,
    }
    secret_id = make_secret(moto, world, **fields)
    world.write_profile(
        mdh_private_key_file=None, mdh_service_account=None, mdh_secret_id=secret_id
    )
    before = json.loads(world.run("status", "--json", **moto.env).out)["secret_memo"]
    assert before["present"] is False and before["age_seconds"] is None
    assert world.run("process", **moto.env).code == 0
    (memo,) = world.cache_dir.glob("secret-*.json")
    shown = json.loads(world.run("status", "--json", **moto.env).out)["secret_memo"]
    assert shown["path"] == str(memo) and shown["present"] and shown["usable"]
    assert 0 <= shown["age_seconds"] < 60
    human = world.run("status", **moto.env).out
    assert f"secret memo  {memo}, written " in human and "(in use)" in human, human

    cleared = world.run("clear", **moto.env)
    assert cleared.code == 0 and "; 1 secret memo" in cleared.err, cleared.err
    assert not memo.exists() and not list(world.cache_dir.glob("*.bin"))

    assert world.run("process", **moto.env).code == 0
    other = world.cache_dir / ("secret-" + "0" * 64 + ".json")  # another secret's memo
    shutil.copy(memo, other)
    os.chmod(other, 0o600)
    swept = world.run("clear", "--all", **moto.env)
    assert swept.code == 0 and "; 2 secret memos" in swept.err, swept.err
    assert not list(world.cache_dir.glob("secret-*.json"))


def test_a_memo_from_another_secret_or_too_old_is_not_used(world: World, moto: Any) -> None:
    import os
    import time

    pair = world.account.key_pair
    fields = {"service_account": world.account.name, "private_key": pair.private_pem}
    secret_id = make_secret(moto, world, **fields)
    world.write_profile(
        mdh_private_key_file=None, mdh_service_account=None, mdh_secret_id=secret_id
    )
    assert world.run("process", **moto.env).code == 0
    (memo,) = world.cache_dir.glob("secret-*.json")
    document = json.loads(memo.read_text())
    document["read_at"] = time.time() - 601  # older than SECRET_TTL
    memo.write_text(json.dumps(document))
    os.chmod(memo, 0o600)
    again = world.run("process", MDH_LOG_FORMAT="json", **moto.env)
    assert again.code == 0 and "fast path" not in again.err  # the full command read it again
    assert json.loads(memo.read_text())["read_at"] > time.time() - 60  # and remembered it anew
