"""A service account whose key lives in AWS KMS (moto in server mode, an RSA_2048 SIGN_VERIFY key):
the assertion is signed by KMS ``Sign`` and the emulator verifies it with the key's public half;
a wrong key id is exit 3 naming it; throttling is retried; a hit makes no AWS call; and a cache
folder taken elsewhere opens nothing without ``kms:Sign``."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from conftest import World
from mdh_creds.cache.material import material_path
from mdh_creds.testing.proxy import CountingProxy, Recorded
from servers import MotoServer, free_port

KMS_ACCOUNT = "MyDataHelps.KMS.app"


def create_kms_key(url: str) -> tuple[str, str]:
    """An RSA_2048 SIGN_VERIFY key in moto: its id and public key (PEM)."""
    import boto3

    kms = boto3.client(
        "kms",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    public = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key_id, public.decode("ascii")


@pytest.fixture
def kms_world(world: World, moto: MotoServer) -> tuple[World, str, str]:
    """The world's profile signing with a KMS key registered on the emulator (no key file)."""
    key_id, public = create_kms_key(moto.url)
    world.emulator.register_account(KMS_ACCOUNT, public, project_codes=[world.account.project_code])
    world.write_profile(
        mdh_service_account=KMS_ACCOUNT, mdh_private_key_file=None, mdh_kms_key_id=key_id
    )
    world.extra_env.update(moto.env, XDG_DATA_HOME=str(world.tmp / "data"))
    return world, key_id, public


def token_assertions(world: World) -> list[str]:
    forms = [r.form or {} for r in world.emulator.requests if r.endpoint == "token"]
    return [f["client_assertion"] for f in forms if "client_assertion" in f]


def signs(proxy: CountingProxy) -> int:
    return proxy.counts()["Sign"]


def test_an_exchange_signed_by_kms_succeeds_and_is_verified(
    kms_world: tuple[World, str, str], moto: MotoServer
) -> None:
    world, key_id, public = kms_world
    with CountingProxy(moto.url) as proxy:
        result = world.run("process", AWS_ENDPOINT_URL=proxy.url)
        assert result.code == 0, result.err
        assert signs(proxy) == 2  # the sealing material once, the assertion once
    document = json.loads(result.out)
    assert document["AccessKeyId"] and document["Version"] == 1
    [assertion] = token_assertions(world)
    claims = jwt.decode(assertion, public, algorithms=["RS256"], audience=world.emulator.token_url)
    assert claims["iss"] == claims["sub"] == KMS_ACCOUNT
    assert jwt.get_unverified_header(assertion) == {"alg": "RS256", "typ": "JWT"}
    assert key_id not in result.err


def test_a_hit_makes_no_aws_call_and_the_material_lives_outside_the_cache(
    kms_world: tuple[World, str, str], moto: MotoServer
) -> None:
    world, key_id, _ = kms_world
    first = world.run("process")
    assert first.code == 0, first.err
    unreachable = f"http://127.0.0.1:{free_port()}"  # KMS gone: a hit must not notice
    again = world.run("process", AWS_ENDPOINT_URL=unreachable)
    assert again.code == 0, again.err
    assert again.out == first.out
    full = world.main("process", "--profile", "mdh", AWS_ENDPOINT_URL=unreachable)
    assert full.code == 0, full.err  # the full command's hit too
    path = Path(material_path(world.env(), key_id))
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert world.cache_dir not in path.parents
    assert len(token_assertions(world)) == 1


def test_a_stolen_cache_folder_opens_nothing_without_kms(
    kms_world: tuple[World, str, str], tmp_path: Path
) -> None:
    world, _, _ = kms_world
    assert world.run("process").code == 0
    stolen = tmp_path / "elsewhere"
    shutil.copytree(world.cache_dir, stolen)
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = world.run(
        "process",
        "--cache-dir",
        str(stolen),
        AWS_ENDPOINT_URL=unreachable,
        XDG_DATA_HOME=str(tmp_path / "thief-data"),
        MDH_RETRIES="0",
    )
    assert result.code == 5, result.err
    assert result.out == ""
    assert "KMS" in result.err


def test_a_wrong_key_id_is_exit_3_naming_it(kms_world: tuple[World, str, str]) -> None:
    world, _, _ = kms_world
    for wrong in ("alias/not-there", "11111111-2222-3333-4444-555555555555"):
        world.write_profile(mdh_kms_key_id=wrong)
        result = world.run("process")
        assert result.code == 3, result.err
        assert wrong in result.err and "mdh_kms_key_id" in result.err
        assert len(result.err.strip().splitlines()) == 1
    assert token_assertions(world) == []


def test_kms_throttling_is_retried_as_a_transient_fault(
    kms_world: tuple[World, str, str], moto: MotoServer
) -> None:
    world, _, _ = kms_world
    with CountingProxy(moto.url) as proxy:
        refused: list[Recorded] = []

        def throttle(entry: Recorded) -> bool:
            if entry.operation == "Sign" and len(refused) < 3:
                refused.append(entry)
                return True
            return False

        proxy.throttle = throttle
        result = world.run("process", AWS_ENDPOINT_URL=proxy.url)
        assert result.code == 0, result.err
        assert len(refused) == 3 and signs(proxy) == 5  # three refused, then both made


def test_kms_throttling_that_never_ends_is_exit_5(
    kms_world: tuple[World, str, str], moto: MotoServer
) -> None:
    world, _, _ = kms_world
    with CountingProxy(moto.url) as proxy:
        proxy.throttle = lambda entry: entry.operation == "Sign"
        result = world.run("process", AWS_ENDPOINT_URL=proxy.url, MDH_RETRIES="1")
    assert result.code == 5, result.err
    assert "ThrottlingException" in result.err and result.out == ""
    assert token_assertions(world) == []


def test_configure_prints_the_public_key_mdh_asks_for(world: World, moto: MotoServer) -> None:
    key_id, public = create_kms_key(moto.url)
    world.extra_env.update(moto.env)
    args = ("--service-account", KMS_ACCOUNT, "--project-code", "RK.KMS.Project")
    result = world.run("configure", "--profile", "kms", *args, "--kms-key-id", key_id)
    assert result.code == 0, result.err
    assert result.out == public
    assert "register it" in result.err and "still needs" not in result.err
    assert f"mdh_kms_key_id = {key_id}" in world.config.read_text(encoding="utf-8")


def test_a_kms_key_and_a_private_key_together_are_exit_3(
    kms_world: tuple[World, str, str],
) -> None:
    world, _, _ = kms_world
    world.write_profile(mdh_private_key_file=str(world.account.key_file))
    result = world.main("process")
    assert result.code == 3
    assert "KMS key" in result.err and "private key" in result.err


def test_iam_policy_allows_sign_on_the_key(kms_world: tuple[World, str, str]) -> None:
    world, key_id, _ = kms_world
    result = world.main("iam-policy", AWS_ACCOUNT_ID="123456789012")
    policy: dict[str, Any] = json.loads(result.out)
    [statement] = [s for s in policy["Statement"] if s["Sid"] == "MdhCredsKmsSign"]
    assert statement["Action"] == ["kms:Sign", "kms:GetPublicKey"]
    assert statement["Resource"] == f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
