"""The whole flow through real tools: the AWS CLI v1 and boto3 run ``credential_process``, get
credentials the emulator minted as real moto IAM keys, and call STS as that IAM user."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import World, clean_environ
from mdh_creds.testing.minters import moto_iam_minter

ACCOUNT_ARN = "arn:aws:iam::123456789012:user/{}"


@pytest.fixture
def minted_world(world: World, moto: Any) -> World:
    world.emulator.minter = moto_iam_minter(moto.url)
    world.write_profile(
        credential_process=f"{sys.executable} -m mdh_creds process --profile {world.profile}"
    )
    world.extra_env["AWS_ENDPOINT_URL"] = moto.url
    return world


def aws_cli() -> str:
    found = shutil.which("aws", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("the AWS CLI v1 is not installed in this environment (test extra 'awscli')")
    return found


def test_aws_cli_gets_the_minted_identity(minted_world: World) -> None:
    done = subprocess.run(
        [aws_cli(), "sts", "get-caller-identity", "--profile", "mdh", "--output", "json"],
        env=minted_world.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == ACCOUNT_ARN.format("mdh-export-1")
    assert minted_world.emulator.count("exchange") == 1


def test_aws_cli_shows_our_error_when_the_exchange_fails(minted_world: World) -> None:
    minted_world.emulator.fail("token", 403, times=5)
    done = subprocess.run(
        [aws_cli(), "sts", "get-caller-identity", "--profile", "mdh"],
        env=minted_world.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "mdh-creds: MDH token endpoint" in done.stderr and "403" in done.stderr


def test_boto3_session_gets_the_minted_identity(
    minted_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in minted_world.env().items():
        monkeypatch.setenv(name, value)
    session = boto3.Session(profile_name="mdh")
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"] == ACCOUNT_ARN.format("mdh-export-1")
    assert session.get_credentials().method == "custom-process"


@pytest.fixture
def emulator_process(tmp_path: Path, moto: Any) -> Iterator[dict[str, str]]:
    """``python -m mdh_creds.testing.emulator --moto URL`` run by hand: what its banner says."""
    key_file = tmp_path / "emulator" / "service-account.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "mdh_creds.testing.emulator", "--moto", moto.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_environ({"PYTHONUNBUFFERED": "1"}),
    )
    try:
        banner = read_banner(process)
        banner["moto"] = moto.url
        key_file.parent.mkdir()
        key_file.write_text(Path(banner["Private key file"]).read_text())
        key_file.chmod(0o600)
        banner["key"] = str(key_file)
        yield banner
    finally:
        process.terminate()
        process.wait(timeout=30)


def read_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    """The ``Name: value`` lines the emulator prints before it serves (bounded in time)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    found: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1).rstrip("\n")
        except queue.Empty:
            continue
        if line.startswith("Serving until interrupted"):
            return found
        name, sep, value = line.partition(": ")
        if sep:
            found[name.strip()] = value.strip()
        elif line.startswith("AWS_ENDPOINT_URL="):
            found["proof"] = line
    pytest.fail(f"the emulator printed no banner in time: {found}")


def test_configured_profile_works_from_anywhere_without_the_venv_on_path(
    emulator_process: dict[str, str], tmp_path: Path
) -> None:
    banner = emulator_process
    assert "moto server" in banner["Credentials minted"]
    assert banner["proof"] == (
        f"AWS_ENDPOINT_URL={banner['moto']} aws sts get-caller-identity --profile mdh-emulator"
    )
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = clean_environ({"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"})
    configure = subprocess.run(
        [
            str(Path(sys.executable).parent / "mdh-creds"),
            "configure",
            "--profile",
            "mdh",
            "--service-account",
            "MyDataHelps.DEMO.app",
            "--private-key-file",
            banner["key"],
            "--project-code",
            "RK.DEMO.Project",
            "--token-url",
            banner["MDH emulator token URL"],
            "--exchange-url",
            banner["MDH emulator exchange URL"],
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert configure.returncode == 0, configure.stderr
    bare = {**env, "PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": banner["moto"]}
    assert Path(sys.executable).parent.as_posix() not in bare["PATH"]
    done = subprocess.run(
        [aws_cli(), "sts", "get-caller-identity", "--profile", "mdh", "--output", "json"],
        env=bare,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == ACCOUNT_ARN.format("mdh-export-1")
