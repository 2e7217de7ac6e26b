"""``mdh-creds exec``: the child's environment, exit codes, nesting and signals, through real
processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import World, secrets_of
from mdh_creds.aws.guard import GUARD_VARIABLE

PRINT_ENV = (
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in ("
    "'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', "
    "'AWS_CREDENTIAL_EXPIRATION', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', "
    f"'AWS_DEFAULT_PROFILE', 'MDH_CREDS_EXEC', '{GUARD_VARIABLE}')}}))"
)
TRAP_SIGTERM = """
import pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
def on_term(signum, frame):
    (folder / "marker").write_text("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
(folder / "ready").write_text("ready")
time.sleep(30)
sys.exit(9)
"""
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX signals and sh")


@posix_only
def test_exit_code_is_passed_through(world: World) -> None:
    result = world.run("exec", "--", "sh", "-c", "exit 7")
    assert result.code == 7, result.err
    assert result.out == ""


def test_child_gets_the_exported_credentials_without_the_profile(world: World) -> None:
    exported = world.run("export", "--format", "json")
    assert exported.code == 0, exported.err
    expected = json.loads(exported.out)
    result = world.run(
        "exec",
        "--",
        sys.executable,
        "-c",
        PRINT_ENV,
        AWS_DEFAULT_PROFILE="mdh",
        **{GUARD_VARIABLE: "12345"},
    )
    assert result.code == 0, result.err
    seen = json.loads(result.out)
    assert seen["AWS_ACCESS_KEY_ID"] == expected["AccessKeyId"]
    assert seen["AWS_SECRET_ACCESS_KEY"] == expected["SecretAccessKey"]
    assert seen["AWS_SESSION_TOKEN"] == expected["SessionToken"]
    assert seen["AWS_CREDENTIAL_EXPIRATION"] == expected["Expiration"]
    assert seen["AWS_REGION"] == seen["AWS_DEFAULT_REGION"] == expected["Region"] == "us-east-1"
    assert seen["AWS_PROFILE"] is None
    assert seen["AWS_DEFAULT_PROFILE"] is None
    assert seen[GUARD_VARIABLE] is None
    assert seen["MDH_CREDS_EXEC"] == "mdh"
    assert world.emulator.count("exchange") == 1  # the second run used the cache
    for secret in secrets_of(world, expected["SecretAccessKey"], expected["SessionToken"]):
        assert secret not in result.err


def test_nesting_is_refused(world: World) -> None:
    result = world.run("exec", "--", sys.executable, "-m", "mdh_creds", "exec", "--", "true")
    assert result.code == 3
    assert "already inside `mdh-creds exec` for profile mdh: run true directly" in result.err
    assert result.err.count("\n") == 1, result.err


def test_unknown_command_exits_127(world: World) -> None:
    result = world.run("exec", "--", "mdh-creds-no-such-command")
    assert result.code == 127
    assert result.err == "mdh-creds: exec: mdh-creds-no-such-command: command not found\n"


@posix_only
def test_command_that_is_not_executable_exits_126(world: World) -> None:
    script = world.tmp / "not-executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    result = world.main("exec", "--", str(script))
    assert result.code == 126
    assert result.err.startswith(f"mdh-creds: exec: {script}: cannot run it")


@posix_only
def test_child_killed_by_a_signal_gives_128_plus_n(world: World) -> None:
    before = signal.getsignal(signal.SIGTERM)
    result = world.main("exec", "--", "sh", "-c", "kill -TERM $$")
    assert result.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # our handlers are restored


def _wait_for(path: Path, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the child never got ready (code {process.returncode}): {err}")
        time.sleep(0.05)


@posix_only
def test_sigterm_is_forwarded_to_the_child(world: World) -> None:
    child = world.tmp / "child.py"
    child.write_text(TRAP_SIGTERM)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mdh_creds",
            "exec",
            "--",
            sys.executable,
            str(child),
            str(world.tmp),
        ],
        env=world.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(world.tmp / "ready", process, 20)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert (world.tmp / "marker").read_text() == "SIGTERM"
