"""The client-secret grant as a team on the older DynamoDB-cached token SDK meets it: its own
variables (``SECRET_NAME`` in Secrets Manager, ``IS_LOCAL``, ``URL``, ``SCOPE``, ``RETRIES``,
``INTERVAL``), no AWS profile, moto in server mode and the emulator's client-secret endpoint."""

from __future__ import annotations

import base64
import io
import json
import secrets
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import CredentialRetrievalError

import mdh_creds
from conftest import Result, clean_environ
from mdh_creds import aws_lambda
from mdh_creds.cli.main import main
from mdh_creds.clock import parse_timestamp
from mdh_creds.errors import ConfigError
from mdh_creds.testing import MdhEmulator
from servers import TABLE, free_port

SECRET_NAME = "metadata-bank/api-client"
SCOPE = "metadata.read"
SDK_NAMES = ("SECRET_NAME", "IS_LOCAL", "URL", "SCOPE", "RETRIES", "INTERVAL")


@dataclass
class Deployment:
    """An isolated machine configured with environment variables only (no AWS profile)."""

    tmp: Path
    emulator: MdhEmulator
    client_id: str
    client_secret: str = field(repr=False)
    variables: dict[str, str] = field(default_factory=dict)

    def env(self, without: Iterable[str] = (), **extra: str) -> dict[str, str]:
        env = clean_environ(
            {
                "HOME": str(self.tmp / "home"),
                "XDG_CACHE_HOME": str(self.tmp / "xdg-cache"),
                "AWS_CONFIG_FILE": str(self.tmp / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "no-aws-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
                **self.variables,
                **extra,
            }
        )
        return {k: v for k, v in env.items() if k not in set(without)}

    def popen(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mdh_creds", *args],
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, env: dict[str, str] | None = None, **extra: str) -> Result:
        """``python -m mdh_creds ARGS`` as a real process."""
        done = subprocess.run(
            [sys.executable, "-m", "mdh_creds", *args],
            env=env if env is not None else self.env(**extra),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def main(self, *args: str, **extra: str) -> Result:
        """The same command in this process."""
        out, err = io.StringIO(), io.StringIO()
        code = main(list(args), self.env(**extra), out, err)
        return Result(code, out.getvalue(), err.getvalue())

    def patch(self, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
        """This machine's variables in ``os.environ`` (for the Python API and the handler)."""
        for name in [*SDK_NAMES, "CONSUMER_KEY", "CONSUMER_SECRET", "AWS_PROFILE"]:
            monkeypatch.delenv(name, raising=False)
        for name, value in self.env(**extra).items():
            monkeypatch.setenv(name, value)


@pytest.fixture
def api(tmp_path: Path, mdh_emulator: MdhEmulator) -> Deployment:
    """An API client registered on the emulator, configured with the SDK's variable names."""
    client_id, client_secret = f"sdk-client-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    mdh_emulator.register_client(client_id, client_secret, scopes=[SCOPE])
    (tmp_path / "home").mkdir()
    variables = {
        "CONSUMER_KEY": client_id,
        "CONSUMER_SECRET": client_secret,
        "URL": mdh_emulator.client_token_url,
        "SCOPE": SCOPE,
        "RETRIES": "2",
        "INTERVAL": "10",
    }
    return Deployment(tmp_path, mdh_emulator, client_id, client_secret, variables)


@pytest.fixture
def sdk(
    api: Deployment, moto: Any, dynamodb_table: Any, monkeypatch: pytest.MonkeyPatch
) -> Deployment:
    """Set up exactly as the older SDK's README says: the consumer key and secret in Secrets
    Manager under ``SECRET_NAME``, ``IS_LOCAL=true`` (AWS_ENDPOINT_URL, which wins, points at
    moto instead of LocalStack's port), ``URL``, ``SCOPE``, ``RETRIES``, ``INTERVAL``."""
    document = {"consumerKey": api.client_id, "consumerSecret": api.client_secret}
    secretsmanager = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1")
    secretsmanager.create_secret(Name=SECRET_NAME, SecretString=json.dumps(document))
    api.variables = {
        **moto.env,
        "SECRET_NAME": SECRET_NAME,
        "IS_LOCAL": "true",
        "URL": api.emulator.client_token_url,
        "SCOPE": SCOPE,
        "RETRIES": "2",
        "INTERVAL": "10",
    }
    api.patch(monkeypatch)
    return api


def table_items(dynamodb_table: Any) -> list[dict[str, Any]]:
    client, table = dynamodb_table
    items: list[dict[str, Any]] = client.scan(TableName=table)["Items"]
    return items


def finish(procs: list[subprocess.Popen[str]], timeout: float = 180) -> list[str]:
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


# --- the older SDK's deployment, unchanged ------------------------------------------------------


def test_token_twice_is_one_request_and_python_gets_the_same_token(sdk: Deployment) -> None:
    first, second = sdk.run("token"), sdk.run("token")
    assert first.code == 0, first.err
    assert (second.code, second.out) == (0, first.out)
    token = first.out.strip()
    assert sdk.emulator.count("client_token") == 1
    assert sdk.emulator.token_client(token) == sdk.client_id
    assert sdk.emulator.requests[-1].headers["Authorization"].startswith("Basic ")
    assert mdh_creds.get_access_token().value == token
    assert sdk.emulator.count("client_token") == 1
    assert sdk.client_secret not in first.err + second.err


def test_token_json_and_header(sdk: Deployment) -> None:
    token = sdk.main("token").out.strip()
    document = json.loads(sdk.main("token", "--json").out)
    assert set(document) == {
        "access_token",
        "token_type",
        "expires_in",
        "expires_at",
        "expires_at_epoch",
    }
    assert (document["access_token"], document["token_type"]) == (token, "Bearer")
    assert document["expires_at"].endswith("Z")
    assert parse_timestamp(document["expires_at"]).timestamp() == document["expires_at_epoch"]
    assert 3500 < document["expires_in"] <= 3600
    assert sdk.main("token", "--header").out == f"Authorization: Bearer {token}\n"
    assert sdk.main("token", "--json", "--header").code == 2
    assert sdk.emulator.count("client_token") == 1


def test_the_lambda_handler_refreshes_the_shared_dynamodb_entry(
    sdk: Deployment, dynamodb_table: Any
) -> None:
    sdk.emulator.token_lifetime = 30  # inside any refresh window: every invocation refreshes
    environment = aws_lambda.ExecutionEnvironment()
    first = environment.handle({}, None)
    stored_first = table_items(dynamodb_table)
    second = environment.handle({}, None)
    stored_second = table_items(dynamodb_table)
    assert (first["status"], second["status"]) == ("refreshed", "refreshed")
    assert [i["pk"]["S"][:6] for i in stored_second if "entry" in i] == ["token-"]
    assert [i["entry"] for i in stored_first] != [i["entry"] for i in stored_second]
    sdk.emulator.token_lifetime = 3600
    assert environment.handle({}, None)["status"] == "refreshed"
    late = environment.handle({}, None)
    assert late["status"] == "fresh" and late["expires_at"].endswith("Z")
    assert sdk.emulator.count("client_token") == 3
    # Another machine reading the shared table gets the token the handler stored.
    reader = sdk.run("token", MDH_CACHE="dynamodb", XDG_CACHE_HOME=str(sdk.tmp / "reader"))
    assert reader.code == 0, reader.err
    token = reader.out.strip()
    assert sdk.emulator.token_client(token) == sdk.client_id
    assert sdk.emulator.count("client_token") == 3
    blobs = [repr(item).encode() for item in table_items(dynamodb_table)]
    blobs += [bytes(item["entry"]["B"]) for item in table_items(dynamodb_table) if "entry" in item]
    for secret in (token, sdk.client_secret, base64.b64encode(sdk.client_secret.encode()).decode()):
        for blob in blobs:
            assert secret.encode() not in blob
            assert base64.b64encode(secret.encode())[:24] not in blob


@pytest.mark.slow
@pytest.mark.xdist_group("process-storms")  # dozens of processes: never two storms at once
def test_16_processes_on_a_cold_cache_make_one_token_request(sdk: Deployment) -> None:
    sdk.emulator.delay("client_token", 0.5)
    procs = [
        sdk.popen("token", MDH_CACHE="dynamodb", XDG_CACHE_HOME=str(sdk.tmp / f"machine-{n}"))
        for n in range(16)
    ]
    outputs = finish(procs)
    assert sdk.emulator.count("client_token") == 1
    assert len(set(outputs)) == 1
    assert sdk.emulator.token_client(outputs[0].strip()) == sdk.client_id


def test_the_sdk_readme_env_file_works_unchanged(
    sdk: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = sdk.tmp / "sdk.env"
    lines = [f"{name}={sdk.variables[name]}" for name in SDK_NAMES]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = sdk.run("token", "--env-file", str(env_file), env=sdk.env(without=SDK_NAMES))
    assert result.code == 0, result.err
    for name in SDK_NAMES:
        monkeypatch.delenv(name)
    token = mdh_creds.get_access_token(env_file=env_file)
    assert token.value == result.out.strip()
    assert sdk.emulator.count("client_token") == 1


def test_is_local_means_localstack_unless_an_endpoint_is_set(sdk: Deployment) -> None:
    from mdh_creds.aws.clients import aws_client
    from mdh_creds.settings.model import parse_settings

    settings = parse_settings({"IS_LOCAL": "true"}, {}, profile_keys={})
    assert settings.is_local
    local = aws_client("secretsmanager", settings, {"IS_LOCAL": "true"})
    assert local.meta.endpoint_url == "http://localhost:4566"
    endpoint = sdk.variables["AWS_ENDPOINT_URL"]
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        moto = aws_client("secretsmanager", settings, {"IS_LOCAL": "true", variable: endpoint})
        assert moto.meta.endpoint_url == endpoint  # botocore's own variable wins


def test_a_secret_holding_a_private_key_and_a_client_secret_is_exit_3(
    sdk: Deployment, moto: Any, mdh_key_pair: Any
) -> None:
    document = {
        "consumerKey": "k",
        "consumerSecret": "s" * 12,
        "private_key": mdh_key_pair.private_pem,
    }
    client = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1")
    client.create_secret(Name="both", SecretString=json.dumps(document))
    result = sdk.main("token", SECRET_NAME="both")
    assert result.code == 3, result.err
    assert "private key (secret both)" in result.err and "client id or secret" in result.err
    assert sdk.emulator.count("client_token") == 0


def test_configure_creates_the_table_and_iam_policy_covers_secret_and_table(
    sdk: Deployment, moto: Any
) -> None:
    result = sdk.main("configure", "--create-table", MDH_DYNAMODB_TABLE="api-tokens")
    assert result.code == 0, result.err
    client = boto3.client("dynamodb", endpoint_url=moto.url, region_name="us-east-1")
    assert client.describe_table(TableName="api-tokens")["Table"]["TableName"] == "api-tokens"
    policy = json.loads(sdk.main("iam-policy", MDH_CACHE="dynamodb").out)
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["MdhCredsCache"].endswith(f":table/{TABLE}")
    assert f":secret:{SECRET_NAME}-" in resources["MdhCredsSecret"]


# --- the client authentication on the wire ------------------------------------------------------


@pytest.mark.parametrize("method", ["basic", "post"])
def test_awkward_client_id_and_secret_reach_the_emulator_intact(
    api: Deployment, method: str
) -> None:
    client_id, client_secret = "team:api%20+ü", "s3:cr%et+/=ü€x"
    api.emulator.register_client(client_id, client_secret, scopes=[SCOPE])
    result = api.main(
        "token", CONSUMER_KEY=client_id, CONSUMER_SECRET=client_secret, MDH_CLIENT_AUTH=method
    )
    assert result.code == 0, result.err
    recorded = api.emulator.requests[-1]
    assert (recorded.status, recorded.account) == (200, client_id)
    authorization = recorded.headers.get("Authorization")
    if method == "basic":
        assert authorization is not None
        pair = base64.b64decode(authorization.removeprefix("Basic ")).decode("ascii")
        assert pair.count(":") == 1  # the id's own ':' was form-encoded
    else:
        assert authorization is None and recorded.form is not None
        assert recorded.form["client_id"] == client_id


@pytest.mark.parametrize("method", ["basic", "post"])
def test_a_netrc_entry_for_the_host_changes_nothing(api: Deployment, method: str) -> None:
    (api.tmp / "home" / ".netrc").write_text(
        "machine 127.0.0.1 login someone password something-else\n", encoding="utf-8"
    )
    (api.tmp / "home" / ".netrc").chmod(0o600)
    result = api.run("token", MDH_CLIENT_AUTH=method)
    assert result.code == 0, result.err
    assert api.emulator.requests[-1].account == api.client_id


def test_a_wrong_secret_is_exit_4_with_the_invalid_client_hint(api: Deployment) -> None:
    result = api.run("token", CONSUMER_SECRET="not-the-right-secret")
    assert result.code == 4, result.err
    assert "invalid_client" in result.err and "client secret" in result.err
    assert "mdh_client_auth" in result.err and result.err.count("\n") == 1
    assert "not-the-right-secret" not in result.err and api.client_secret not in result.err
    assert api.emulator.count("client_token") == 1  # a refusal is an answer: never retried


def test_the_token_endpoint_down_is_exit_5_after_retries(api: Deployment) -> None:
    api.emulator.fail("client_token", 503, times=10)
    result = api.main("token")
    assert result.code == 5, result.err
    assert "answered HTTP 503" in result.err
    assert api.emulator.count("client_token") == 3  # RETRIES=2
    closed = f"http://127.0.0.1:{free_port()}/oauth2/token"
    assert api.main("token", URL=closed).code == 5


def test_a_stale_cached_token_is_served_when_the_refresh_fails(api: Deployment) -> None:
    api.emulator.token_lifetime = 50  # valid for 50 s: stale at once (60 s or less left)
    first = api.main("token")
    assert first.code == 0, first.err
    api.emulator.fail("client_token", 503, times=10)
    second = api.main("token")
    assert (second.code, second.out) == (0, first.out)
    assert "refresh failed" in second.err and "serving cached access token" in second.err
    assert api.emulator.count("client_token") == 4


def test_a_cached_token_is_handed_out_only_with_more_than_60_seconds_left(
    api: Deployment,
) -> None:
    api.emulator.token_lifetime = 50
    short = [api.main("token").out for _ in range(2)]
    api.emulator.token_lifetime = 120
    long = [api.main("token").out for _ in range(2)]
    assert short[0] != short[1] and long[0] == long[1]
    assert api.emulator.count("client_token") == 3


# --- one grant per profile, tokens only ---------------------------------------------------------


@pytest.mark.parametrize("command", [["process"], ["export"], ["exec", "--", "true"]])
def test_aws_credentials_are_refused_with_exit_3(api: Deployment, command: list[str]) -> None:
    result = api.main(*command)
    assert result.code == 3, result.err
    assert "holds an API token" in result.err and "not AWS credentials" in result.err
    assert api.emulator.count("client_token") == 0


def test_the_default_command_refuses_too(api: Deployment) -> None:
    api.main("token")  # a cached token does not make the process path serve anything
    result = api.run()
    assert result.code == 3 and "holds an API token" in result.err
    assert result.out == ""


def test_the_provider_and_get_credentials_refuse(
    api: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.patch(monkeypatch)
    with pytest.raises(ConfigError, match="holds an API token"):
        mdh_creds.get_credentials()
    with pytest.raises(CredentialRetrievalError, match="holds an API token"):
        mdh_creds.session().get_credentials()
    assert api.emulator.count("client_token") == 0


def test_a_private_key_and_a_client_secret_together_is_exit_3_naming_both(
    api: Deployment, mdh_key_pair: Any
) -> None:
    result = api.main("token", MDH_PRIVATE_KEY=mdh_key_pair.private_pem)
    assert result.code == 3, result.err
    assert "MDH_PRIVATE_KEY" in result.err and "CONSUMER_SECRET" in result.err
    assert api.emulator.count("client_token") == 0


def test_status_masks_the_secret_and_clear_removes_the_token(api: Deployment) -> None:
    token = api.main("token").out.strip()
    status = api.main("status", "--json")
    assert status.code == 0, status.err
    report = json.loads(status.out)
    assert report["settings"]["client_secret"] == {"value": "****", "source": "CONSUMER_SECRET"}
    assert report["settings"]["client_id"]["value"] == api.client_id
    assert [(e["kind"], e["state"]) for e in report["entries"]] == [("token", "fresh")]
    assert api.client_secret not in status.out and token not in status.out
    assert "removed 1" in api.main("clear").err
    assert api.main("token").out.strip() != token
    assert api.emulator.count("client_token") == 2


def test_configure_writes_an_api_profile_without_credential_process(api: Deployment) -> None:
    config = api.tmp / "aws-config"
    env = {"AWS_CONFIG_FILE": str(config), "CONSUMER_KEY": "", "URL": "", "SCOPE": ""}
    flags = ["--client-id", api.client_id, "--token-url", api.emulator.client_token_url]
    result = api.main("configure", "--profile", "api", *flags, "--scope", SCOPE, **env)
    assert result.code == 0, result.err
    text = config.read_text(encoding="utf-8")
    assert "credential_process" not in text and api.client_secret not in text
    assert f"mdh_client_id = {api.client_id}" in text
    token = api.main("token", "--profile", "api", **env)
    assert token.code == 0, token.err
    assert api.emulator.token_client(token.out.strip()) == api.client_id


def test_no_secret_in_any_log_output_or_cache_file(api: Deployment) -> None:
    tokens: list[str] = []

    def record(answer: dict[str, Any]) -> dict[str, Any]:
        tokens.append(str(answer["access_token"]))
        return answer

    api.emulator.set_answer_override("client_token", record)
    runs = [api.run("token", "--debug", "--force-refresh")]
    runs += [api.run(*argv, "--debug") for argv in (["status"], ["process"], ["clear"])]
    runs.append(api.run("token", "--debug", MDH_CLIENT_AUTH="post"))
    api.emulator.fail("client_token", 503, times=3)
    runs.append(api.run("token", "--debug", "--force-refresh"))
    runs.append(api.run("token", "--debug", CONSUMER_SECRET="a-wrong-secret-value"))
    assert [r.code for r in runs] == [0, 0, 3, 0, 0, 5, 4]
    assert len(tokens) == 2 and "DEBUG" in runs[0].err
    shown = [r.err for r in runs] + [r.out for r in runs[1:4]]
    shown += [p.read_bytes().decode("latin-1") for p in api.tmp.rglob("*") if p.is_file()]
    encoded = base64.b64encode(f"{api.client_id}:{api.client_secret}".encode()).decode()
    for secret in (api.client_secret, encoded, "a-wrong-secret-value", *tokens):
        for text in shown:
            assert secret not in text
