"""``exec --server``, ``exec --profile-env`` and plain ``exec``'s expiry notice, through real
processes: a boto3 child against moto across several lifetimes of short credentials, the child's
environment, refused tokens, exit codes, nesting and the ``[default]`` keys warning."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from conftest import World, secrets_of
from mdh_creds.server.launch import CHILD_STRIPPED
from mdh_creds.testing.minters import moto_iam_minter
from test_end_to_end import ACCOUNT_ARN

# Runs boto3's default chain for SECONDS; prints what it saw as one JSON line.
BOTO3_CHILD = """
import json, os, sys, time, urllib.error, urllib.request
from datetime import datetime, timezone
import boto3

stripped = json.loads(sys.argv[2])
uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
token = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")

def status(headers):
    try:
        request = urllib.request.Request(uri, headers=headers)
        return urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code

report = {
    "present": [name for name in stripped if name in os.environ],
    "uri": uri,
    "token": token,
    "region": [os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION")],
    "missing_token": status({}),
    "wrong_token": status({"Authorization": "A" * len(token)}),
    "right_token": status({"Authorization": token}),
}
session = boto3.Session()
sts = session.client("sts")
arns, errors, least = [], [], None
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    try:
        arns.append(sts.get_caller_identity()["Arn"])
        credentials = session.get_credentials()
        left = (credentials._expiry_time - datetime.now(timezone.utc)).total_seconds()
        least = left if least is None else min(least, left)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.05)
method = session.get_credentials().method
report.update(arns=arns, errors=errors, least_left=least, method=method)
print(json.dumps(report))
"""


@pytest.fixture
def minted(world: World, moto: Any) -> World:
    """The emulator mints moto IAM keys (STS names the user), the child's AWS calls go to moto."""
    world.emulator.minter = moto_iam_minter(moto.url)
    world.extra_env["AWS_ENDPOINT_URL"] = moto.url
    return world


def run_boto3_child(world: World, *flags: str, seconds: float = 0.0, **env: str) -> Any:
    result = world.run(
        "exec",
        "--profile",
        world.profile,
        *flags,
        "--",
        sys.executable,
        "-c",
        BOTO3_CHILD,
        str(seconds),
        json.dumps(CHILD_STRIPPED),
        **env,
    )
    assert result.code == 0, result.err
    return json.loads(result.out), result


@pytest.mark.slow
def test_a_child_runs_across_several_lifetimes_with_no_failed_call(minted: World) -> None:
    minted.emulator.credential_lifetime = 4  # refreshed every ~2.7 s (window 4 / 3)
    leftovers = dict.fromkeys(CHILD_STRIPPED, "leftover")
    report, result = run_boto3_child(minted, "--server", seconds=9, **leftovers)
    assert report["errors"] == []
    users = list(dict.fromkeys(report["arns"]))  # in order of first use
    assert len(users) >= 3, users
    assert users == [ACCOUNT_ARN.format(f"mdh-export-{n}") for n in range(1, len(users) + 1)]
    assert report["least_left"] > 0
    assert report["method"] == "container-role"
    assert minted.emulator.count("exchange") <= 9 / (4 * 2 / 3) + 2
    for secret in secrets_of(minted, report["token"]):
        assert secret not in result.err


def test_the_child_gets_the_endpoint_and_none_of_the_listed_variables(minted: World) -> None:
    leftovers = dict.fromkeys(CHILD_STRIPPED, "leftover")
    report, _ = run_boto3_child(minted, "--server", **leftovers)
    assert report["present"] == []
    assert report["uri"].startswith("http://127.0.0.1:") and report["uri"].endswith("/")
    assert len(report["token"]) == 43
    assert report["region"] == ["us-east-1", "us-east-1"]
    assert (report["missing_token"], report["wrong_token"], report["right_token"]) == (
        401,
        403,
        200,
    )
    assert report["arns"] == []  # no loop asked for: the identity is the previous test's job


def test_profile_env_gives_the_profile_and_no_keys(minted: World) -> None:
    minted.write_profile(
        credential_process=f"{sys.executable} -m mdh_creds process --profile {minted.profile}"
    )
    leftovers = dict.fromkeys(CHILD_STRIPPED, "leftover")
    script = (
        "import json, os, sys, boto3; "
        "names = json.loads(sys.argv[1]); "
        "s = boto3.Session(); "
        "print(json.dumps({'present': {n: os.environ[n] for n in names if n in os.environ}, "
        "'arn': s.client('sts').get_caller_identity()['Arn'], "
        "'method': s.get_credentials().method}))"
    )
    result = minted.run(
        "exec",
        "--profile",
        minted.profile,
        "--profile-env",
        "--",
        sys.executable,
        "-c",
        script,
        json.dumps(CHILD_STRIPPED),
        **leftovers,
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["present"] == {"AWS_PROFILE": "mdh"}
    assert report["method"] == "custom-process"
    assert report["arn"] == ACCOUNT_ARN.format("mdh-export-1")
    assert minted.emulator.count("exchange") == 1  # warmed by exec, a cache hit in the child


def test_profile_env_warns_when_the_profile_has_no_credential_process(world: World) -> None:
    result = world.run("exec", "--profile-env", "--", sys.executable, "-c", "pass")
    assert result.code == 0, result.err
    assert "has no credential_process" in result.err
    assert "mdh-creds configure --profile mdh" in result.err


def test_server_exit_code_and_the_default_keys_warning(world: World) -> None:
    world.credentials_file.write_text(
        "[default]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = static\n"
    )
    result = world.run("exec", "--server", "--", sys.executable, "-c", "raise SystemExit(5)")
    assert result.code == 5
    assert "[default] in" in result.err and "aws_access_key_id" in result.err
    assert "static" not in result.err.replace("static keys", "")
    assert result.err.count("\n") == 1, result.err


def test_server_mode_refuses_to_nest_and_to_combine(world: World) -> None:
    nested = world.run(
        "exec",
        "--server",
        "--",
        sys.executable,
        "-m",
        "mdh_creds",
        "exec",
        "--server",
        "--",
        "true",
    )
    assert nested.code == 3
    assert "already inside `mdh-creds exec` for profile mdh" in nested.err
    both = world.run("exec", "--server", "--profile-env", "--", "true")
    assert both.code == 2
    assert "not allowed with argument" in both.err


@pytest.mark.slow
def test_plain_exec_says_once_when_the_child_outlives_its_keys(world: World) -> None:
    world.emulator.credential_lifetime = 2
    slow = world.run("exec", "--", sys.executable, "-c", "import time; time.sleep(4)")
    assert slow.code == 0, slow.err
    assert slow.err.count("\n") == 1, slow.err
    assert "have expired and it is still running" in slow.err
    assert "mdh-creds exec --server --" in slow.err
    quick = world.run("exec", "--", sys.executable, "-c", "pass")
    assert quick.code == 0 and quick.err == ""
