"""The Lambda refresher against the emulator and a moto DynamoDB table: one exchange, the broker
kept across warm invocations, the table always the cache, one EMF metrics line per invocation,
and no secret out."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from conftest import World, secrets_of, wait_for
from mdh_creds import aws_lambda
from mdh_creds.aws.guard import GUARD_VARIABLE
from mdh_creds.clock import parse_timestamp
from mdh_creds.errors import MdhCredsError
from mdh_creds.testing import MintRequest
from servers import TABLE

ROLE = "arn:aws:iam::123456789012:role/reader"
ASSUMED = "arn:aws:sts::123456789012:assumed-role/reader/"


class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the fields a handler may read)."""

    function_name = "mdh-creds-refresher"
    aws_request_id = "00000000-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class RecordingMinter:
    """Random credentials, remembered so the test can look for them in the output."""

    def __init__(self) -> None:
        self.minted: list[str] = []

    def __call__(self, request: MintRequest) -> Mapping[str, str]:
        secret, token = secrets.token_urlsafe(30), "IQoJb3JpZ2lu" + secrets.token_urlsafe(60)
        self.minted += [secret, token]
        return {
            "AccessKeyId": f"ASIA{request.sequence:016d}",
            "SecretAccessKey": secret,
            "SessionToken": token,
        }


@pytest.fixture
def lambda_env(
    dynamodb_table: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RecordingMinter]:
    """The function's environment variables in ``os.environ``; a fresh execution environment."""
    for name in [n for n in os.environ if n.startswith("MDH_")]:
        monkeypatch.delenv(name)
    account, emulator = world.account, world.emulator
    variables = {
        "AWS_CONFIG_FILE": str(world.tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(world.tmp / "no-aws-credentials"),
        "MDH_SERVICE_ACCOUNT": account.name,
        "MDH_PRIVATE_KEY": account.key_pair.private_pem,
        "MDH_PROJECT_CODE": account.project_code,
        "MDH_TOKEN_URL": emulator.token_url,
        "MDH_EXCHANGE_URL": emulator.legacy_exchange_url,
        "MDH_CACHE": "dynamodb",
        "MDH_DYNAMODB_TABLE": TABLE,
        "MDH_RETRY_INTERVAL_MS": "10",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    minter = RecordingMinter()
    emulator.minter = minter
    yield minter
    os.environ.pop(GUARD_VARIABLE, None)


@pytest.fixture
def environment(lambda_env: RecordingMinter) -> aws_lambda.ExecutionEnvironment:
    """A new execution environment (a cold start) with the function's variables."""
    return aws_lambda.ExecutionEnvironment()


def stored_names(dynamodb_table: Any) -> list[str]:
    client, table = dynamodb_table
    return [item["pk"]["S"] for item in client.scan(TableName=table)["Items"]]


def test_refreshed_then_fresh_with_one_exchange_and_no_secret(
    lambda_env: RecordingMinter,
    environment: aws_lambda.ExecutionEnvironment,
    world: World,
    dynamodb_table: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    first = environment.handle({}, LambdaContext())
    broker = environment.broker
    second = environment.handle({"source": "aws.events"}, LambdaContext())
    assert first["status"] == "refreshed"
    assert second["status"] == "fresh"
    assert first["expires_at"] == second["expires_at"]
    assert first["expires_at"].endswith("Z")
    assert parse_timestamp(first["expires_at"]).timestamp() > time.time() + 3000
    assert set(first) == {"status", "expires_at"}
    assert world.emulator.count("exchange") == 1
    assert broker is not None and environment.broker is broker
    assert any(name.startswith("credentials-") for name in stored_names(dynamodb_table))
    shown = repr([first, second]) + caplog.text
    shown += "".join(repr(record.__dict__) for record in caplog.records)
    assert len(caplog.records) > 20 and len(lambda_env.minted) == 2
    key_lines = world.account.key_pair.private_pem.strip().splitlines()[1:-1]
    for secret in secrets_of(world, *lambda_env.minted, *key_lines):
        assert secret not in shown


def test_a_new_execution_environment_reads_the_shared_table(
    environment: aws_lambda.ExecutionEnvironment, world: World
) -> None:
    first = environment.handle({}, LambdaContext())
    again = aws_lambda.ExecutionEnvironment().handle({}, LambdaContext())
    assert (first["status"], again["status"]) == ("refreshed", "fresh")
    assert world.emulator.count("exchange") == 1


def test_the_table_is_the_cache_whatever_mdh_cache_says(
    lambda_env: RecordingMinter, dynamodb_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDH_CACHE", "none")
    assert aws_lambda.handler({}, LambdaContext())["status"] == "refreshed"  # the real entry point
    assert any(name.startswith("credentials-") for name in stored_names(dynamodb_table))


def wait_until_stale(environment: aws_lambda.ExecutionEnvironment) -> None:
    """Until the cached credentials age into the refresh window (the broker's own judgement)."""
    broker = environment.broker
    assert broker is not None

    def stale() -> bool:
        return any(e.kind == "credentials" and e.state == "stale" for e in broker.entries())

    wait_for(stale, "the cached credentials to be stale", every=0.1)


@pytest.mark.slow
def test_a_failed_refresh_keeps_the_cached_credentials_and_says_stale(
    environment: aws_lambda.ExecutionEnvironment, world: World
) -> None:
    world.emulator.credential_lifetime = 6  # stale for the last 2 s: time for a loaded machine
    first = environment.handle({}, LambdaContext())
    wait_until_stale(environment)
    world.emulator.fail("exchange", 503, times=10)
    late = environment.handle({}, LambdaContext())
    assert (first["status"], late["status"]) == ("refreshed", "stale")
    assert late["expires_at"] == first["expires_at"]


EMF_UNITS = {"Count", "Seconds", "Milliseconds", "None"}


def emf_metrics(line: str) -> dict[str, Any]:
    """The metrics of one EMF line, after checking it is what CloudWatch extracts metrics from:
    the ``_aws`` metadata, one directive in ``MdhCreds``, every referenced member at the root."""
    document = json.loads(line)
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int)
    assert abs(aws["Timestamp"] / 1000 - time.time()) < 300
    (directive,) = aws["CloudWatchMetrics"]
    assert directive["Namespace"] == "MdhCreds"
    for dimension_set in directive["Dimensions"]:
        assert 1 <= len(dimension_set) <= 30
        assert all(isinstance(document[name], str) for name in dimension_set)
    metrics = {}
    for metric in directive["Metrics"]:
        assert metric["Unit"] in EMF_UNITS
        value = document[metric["Name"]]
        assert isinstance(value, int | float) and not isinstance(value, bool)
        metrics[metric["Name"]] = value
    return {**metrics, "Outcome": document["Outcome"], "Table": document["Table"]}


@pytest.mark.slow
def test_every_invocation_prints_one_emf_line_with_no_secret(
    lambda_env: RecordingMinter, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    environment = aws_lambda.ExecutionEnvironment(out=out)
    world.emulator.credential_lifetime = 6  # stale for the last 2 s: time for a loaded machine
    results = [environment.handle({}, LambdaContext()), environment.handle({}, LambdaContext())]
    wait_until_stale(environment)
    world.emulator.fail("exchange", 503, times=10)
    results.append(environment.handle({}, LambdaContext()))
    monkeypatch.delenv("MDH_SERVICE_ACCOUNT")
    with pytest.raises(MdhCredsError):
        aws_lambda.ExecutionEnvironment(out=out).handle({}, LambdaContext())

    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    refreshed, fresh, stale, failed = (emf_metrics(line) for line in lines)
    assert [r["status"] for r in results] == ["refreshed", "fresh", "stale"]
    assert refreshed["Outcome"] == "refreshed" and refreshed["Refreshed"] == 1
    assert refreshed["Exchanges"] == 2  # the access token and the credentials
    assert 0 < refreshed["SecondsToExpiry"] <= 6
    assert fresh["Outcome"] == "fresh" and fresh["Exchanges"] == 0 and fresh["Refreshed"] == 0
    assert stale["Outcome"] == "stale" and stale["Stale"] == 1 and stale["Exchanges"] == 0
    assert 0 <= stale["SecondsToExpiry"] < 2
    assert failed["Outcome"] == "error" and failed["Failed"] == 1
    assert "SecondsToExpiry" not in failed
    assert {m["Table"] for m in (refreshed, fresh, stale, failed)} == {TABLE}
    assert all(m["LeaseWaitSeconds"] >= 0 for m in (refreshed, fresh, stale))
    key_lines = world.account.key_pair.private_pem.strip().splitlines()[1:-1]
    for secret in secrets_of(world, *lambda_env.minted, *key_lines):
        assert secret not in out.getvalue()


def test_an_unreadable_entry_is_repaired_then_fresh_and_the_metric_says_so(
    lambda_env: RecordingMinter, world: World, dynamodb_table: Any
) -> None:
    out = io.StringIO()
    environment = aws_lambda.ExecutionEnvironment(out=out)
    broker_env = aws_lambda.ExecutionEnvironment(out=io.StringIO())
    broker_env.handle({}, LambdaContext())  # learn the entry's name, then start over
    assert broker_env.broker is not None
    name = broker_env.broker.cred_key.name
    client, table = dynamodb_table
    client.delete_item(TableName=table, Key={"pk": {"S": name}})
    client.put_item(
        TableName=table,
        Item={"pk": {"S": name}, "entry": {"S": "garbage"}, "expires_at": {"N": "9999999999"}},
    )
    results = [environment.handle({}, LambdaContext()) for _ in range(2)]
    assert [r["status"] for r in results] == ["repaired", "fresh"]
    repaired, fresh = (emf_metrics(line) for line in out.getvalue().splitlines())
    assert (repaired["Repaired"], repaired["Refreshed"], repaired["Outcome"]) == (1, 1, "repaired")
    assert (fresh["Repaired"], fresh["Refreshed"]) == (0, 0)
    assert world.emulator.count("exchange") == 2  # the first environment's, then the repair


def test_a_rotated_secret_costs_a_warm_environment_one_refused_exchange(
    lambda_env: RecordingMinter, world: World, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from mdh_creds.testing import generate_key_pair

    account, emulator = world.account, world.emulator
    secrets = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1")

    def document(pem: str) -> str:
        return json.dumps({"service_account": account.name, "private_key": pem})

    secrets.create_secret(Name="mdh/rotating", SecretString=document(account.key_pair.private_pem))
    for name in ("MDH_SERVICE_ACCOUNT", "MDH_PRIVATE_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("MDH_SECRET_ID", "mdh/rotating")
    emulator.credential_lifetime = emulator.token_lifetime = 4
    environment = aws_lambda.ExecutionEnvironment(out=io.StringIO())
    first = environment.handle({}, LambdaContext())
    broker = environment.broker
    assert broker is not None and first["status"] == "refreshed"

    rotated = generate_key_pair()  # the operator rotates the key: MDH and the secret
    emulator.register_account(account.name, rotated, project_codes=[account.project_code])
    secrets.put_secret_value(SecretId="mdh/rotating", SecretString=document(rotated.private_pem))
    emulator.credential_lifetime = emulator.token_lifetime = 3600
    # The answer's expiry is rounded down to the second; the window is a third of 4 s.
    stale_at = parse_timestamp(first["expires_at"]).timestamp() + 1 - 4 / 3
    while time.time() < stale_at + 0.1:  # bounded: the entry turns stale within 4 s
        time.sleep(0.05)
    tokens = emulator.count("token")
    second = environment.handle({}, LambdaContext())
    assert second["status"] == "refreshed" and environment.broker is broker  # still warm
    assert emulator.count("token") - tokens == 2  # one refused (the old key), one accepted
    assert emulator.count("exchange") == 2
    third = environment.handle({}, LambdaContext())
    assert third["status"] == "fresh"


def test_a_role_profile_is_kept_fresh_in_the_table_for_the_fleet_reading_it(
    lambda_env: RecordingMinter,
    world: World,
    moto: Any,
    dynamodb_table: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    from mdh_creds.testing.minters import moto_iam_minter

    world.emulator.minter = moto_iam_minter(moto.url)  # real IAM keys: moto's STS assumes on them
    world.write_profile(mdh_cache="dynamodb", mdh_dynamodb_table=TABLE, mdh_cache_dir=None)
    with world.config.open("a", encoding="utf-8") as handle:
        handle.write(f"[profile reader]\nrole_arn = {ROLE}\nsource_profile = mdh\n")
        handle.write("role_session_name = fleet\nregion = us-east-1\n")
    for name in [n for n in os.environ if n.startswith("MDH_")]:
        monkeypatch.delenv(name)  # the function ships the AWS config and names the role
    monkeypatch.setenv("AWS_CONFIG_FILE", str(world.config))
    monkeypatch.setenv("AWS_PROFILE", "reader")
    environment = aws_lambda.ExecutionEnvironment(out=io.StringIO())
    assert environment.handle({}, LambdaContext())["status"] == "refreshed"
    assert environment.handle({}, LambdaContext())["status"] == "fresh"

    world.extra_env.update(moto.env)
    read = world.run("process", "--profile", "reader")  # a reader of the fleet
    assert read.code == 0, read.err
    answer = json.loads(read.out)
    assert world.emulator.count("exchange") == 1  # the refresher's only
    broker = environment.broker
    assert broker is not None
    assert broker.get_credentials().access_key_id == answer["AccessKeyId"]  # assumed nothing
    monkeypatch.delenv("AWS_PROFILE")
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=moto.url,
        aws_access_key_id=answer["AccessKeyId"],
        aws_secret_access_key=answer["SecretAccessKey"],
        aws_session_token=answer["SessionToken"],
    )
    assert sts.get_caller_identity()["Arn"] == f"{ASSUMED}fleet"
