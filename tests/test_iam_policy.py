"""``mdh-creds iam-policy`` and ``build_policy``: the statements the settings need, no more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore
import pytest

from conftest import World
from mdh_creds.aws.iam_policy import build_policy
from mdh_creds.settings.model import parse_settings
from servers import TABLE

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/team-cache"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mdh/service-account-AbCdEf"


def by_sid(policy: dict[str, object]) -> dict[str, dict[str, object]]:
    statements = policy["Statement"]
    assert isinstance(statements, list)
    return {statement["Sid"]: statement for statement in statements}


def test_dynamodb_cache_and_secret_name_give_three_statements() -> None:
    settings = parse_settings(
        {},
        {"profile": "mdh"},
        {
            "mdh_cache": "dynamodb",
            "mdh_dynamodb_table": "team-cache",
            "mdh_secret_id": "mdh/service-account",
            "region": "eu-west-1",
        },
    )
    statements = by_sid(build_policy(settings, "123456789012"))
    assert set(statements) == {"MdhCredsCache", "MdhCredsCacheListing", "MdhCredsSecret"}
    runtime = statements["MdhCredsCache"]
    assert set(runtime["Action"]) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert runtime["Resource"] == TABLE_ARN
    assert statements["MdhCredsCacheListing"]["Action"] == ["dynamodb:Scan"]
    assert statements["MdhCredsCacheListing"]["Resource"] == TABLE_ARN
    secret = statements["MdhCredsSecret"]
    assert secret["Action"] == ["secretsmanager:GetSecretValue"]
    assert secret["Resource"] == (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mdh/service-account-??????"
    )
    assert all(statement["Effect"] == "Allow" for statement in statements.values())


def test_a_secret_arn_is_used_as_is_and_gives_account_and_region() -> None:
    settings = parse_settings(
        {},
        {"profile": "mdh", "secret_id": SECRET_ARN},
        {"mdh_cache": "dynamodb", "mdh_dynamodb_table": "team-cache"},
    )
    statements = by_sid(build_policy(settings))
    assert statements["MdhCredsSecret"]["Resource"] == SECRET_ARN
    assert statements["MdhCredsCache"]["Resource"] == TABLE_ARN


def test_unknown_account_and_region_are_wildcards() -> None:
    settings = parse_settings({}, {"profile": "mdh"}, {"mdh_cache": "dynamodb"})
    statements = by_sid(build_policy(settings))
    assert statements["MdhCredsCache"]["Resource"] == "arn:aws:dynamodb:*:*:table/mdh-creds-cache"


def test_china_region_uses_its_partition() -> None:
    settings = parse_settings(
        {"AWS_REGION": "cn-north-1"}, {"profile": "mdh"}, {"mdh_secret_id": "mdh"}
    )
    resource = by_sid(build_policy(settings, "123456789012"))["MdhCredsSecret"]["Resource"]
    assert resource == "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:mdh-??????"


def test_command_prints_the_policy_for_the_profile(world: World) -> None:
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table="team-cache", region="eu-west-1")
    result = world.main("iam-policy", AWS_ACCOUNT_ID="123456789012")
    assert result.code == 0, result.err
    statements = by_sid(json.loads(result.out))
    assert statements["MdhCredsCache"]["Resource"] == TABLE_ARN
    assert "MdhCredsSecret" not in statements
    assert "dynamodb:Scan" in result.err and "status" in result.err


def test_file_cache_without_secret_prints_an_empty_policy_and_a_note(world: World) -> None:
    result = world.main("iam-policy")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"Version": "2012-10-17", "Statement": []}
    assert "no statements" in result.err
    assert world.emulator.requests == []


def test_a_wrap_reads_no_profile_and_no_secret(world: World) -> None:
    """``--wrap``: the profile's DynamoDB cache and secret are not the wrap's; its own flags
    are, and its KMS key is only signed with."""
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table="team-cache")
    alone = world.main("iam-policy", "--wrap", MDH_SECRET_ID=SECRET_ARN)
    assert alone.code == 0, alone.err
    assert json.loads(alone.out)["Statement"] == []
    assert "a wrap with the auto cache and no KMS key makes no AWS calls" in alone.err
    flags = ("--cache", "dynamodb", "--dynamodb-table", "team-cache", "--kms-key-id", "k-1")
    fleet = world.main("iam-policy", "--wrap", *flags, AWS_REGION="eu-west-1")
    statements = by_sid(json.loads(fleet.out))
    assert set(statements) == {"MdhCredsCache", "MdhCredsCacheListing", "MdhCredsKmsSign"}
    assert statements["MdhCredsKmsSign"]["Action"] == ["kms:Sign"]
    assert "`wrap --status`" in fleet.err


@pytest.fixture
def dynamodb_calls() -> Iterator[set[str]]:
    """The DynamoDB operations every botocore session created meanwhile sends."""
    calls: set[str] = set()

    def watch(session: Any) -> None:
        session.register("before-call.dynamodb", lambda model, **_: calls.add(model.name))

    botocore.register_initializer(watch)
    yield calls
    botocore.unregister_initializer(watch)


def test_the_statements_cover_exactly_the_calls_made(
    dynamodb_table: Any,
    world: World,
    dynamodb_calls: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(world.tmp / "no-aws-config"))
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=TABLE)
    run = {"AWS_PROFILE": "", "AWS_ENDPOINT_URL": dynamodb_table[0].meta.endpoint_url}
    statements = by_sid(json.loads(world.main("iam-policy", "--profile", "mdh", **run).out))
    for args in (("process",), ("process",), ("clear",)):
        result = world.main(*args, "--profile", "mdh", **run)
        assert result.code == 0, result.err
    runtime = {action.split(":")[1] for action in statements["MdhCredsCache"]["Action"]}
    assert dynamodb_calls == runtime == {"GetItem", "PutItem", "DeleteItem"}
    dynamodb_calls.clear()
    for args in (("status",), ("clear", "--all")):
        assert world.main(*args, "--profile", "mdh", **run).code == 0
    listing = {action.split(":")[1] for action in statements["MdhCredsCacheListing"]["Action"]}
    assert dynamodb_calls <= runtime | listing
    assert "Scan" in dynamodb_calls
