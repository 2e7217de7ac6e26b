"""The ``credential_process`` command ``configure`` writes: absolute, quoted so that botocore
splits it back into the same words, and run by botocore itself from a folder with spaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.compat import compat_shell_split

from conftest import World
from mdh_creds.cli.launcher import check_process, is_own_command, join_words, own_argv

SCRIPT = Path(sys.executable).parent / "mdh-creds"


def test_the_console_script_is_written_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "mdh-creds").write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    assert own_argv("bin/mdh-creds", "/usr/bin/python3") == [str(folder / "mdh-creds")]


def test_anything_else_is_this_python_with_dash_m(tmp_path: Path) -> None:
    python = str(tmp_path / "venv with space" / "bin" / "python")
    assert own_argv("/somewhere/pytest/__main__.py", python) == [python, "-m", "mdh_creds"]


@pytest.mark.parametrize(
    "words",
    [
        ["/opt/mdh creds/bin/mdh-creds", "process", "--profile", "mdh"],
        ["/home/o'brien/venv/bin/python", "-m", "mdh_creds", "process", "--profile", "mdh"],
        ["/plain/bin/mdh-creds", "process", "--profile", "mdh"],
    ],
)
def test_botocore_splits_the_line_back_into_the_same_words(words: list[str]) -> None:
    line = join_words(words)
    assert compat_shell_split(line) == words
    assert is_own_command(line)
    if " " not in words[0] and "'" not in words[0]:
        assert line == " ".join(words)  # quoted only where needed


def test_someone_elses_command_is_not_ours() -> None:
    assert not is_own_command("/opt/custom --x")
    assert not is_own_command("aws-vault exec mdh --json")
    assert not is_own_command("'unbalanced")


def test_check_finds_an_absolute_program_and_flags_a_bare_name(tmp_path: Path) -> None:
    found = check_process(join_words([str(SCRIPT), "process"]), "mdh", {"PATH": ""})
    assert found.found and found.warning is None
    bare = check_process("mdh-creds process", "mdh", {"PATH": str(SCRIPT.parent)})
    assert bare.found_at == str(SCRIPT)
    assert bare.warning is not None and "without a full path" in bare.warning
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    refused = check_process(str(script), "mdh", {})
    assert not refused.found
    assert refused.warning is not None and "is not executable" in refused.warning


def test_botocore_runs_the_command_from_a_folder_with_spaces(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaced = world.tmp / "tools with spaces"
    spaced.mkdir()
    (spaced / "mdh-creds").symlink_to(SCRIPT)  # argv[0] is the path it was started by
    done = subprocess.run(
        [str(spaced / "mdh-creds"), "configure", "--profile", "mdh"],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = join_words([str(spaced / "mdh-creds"), "process", "--profile", "mdh"])
    assert f"credential_process = {expected}\n" in world.config.read_text()
    assert "'" in expected
    for name, value in world.env(PATH="/usr/bin:/bin").items():
        monkeypatch.setenv(name, value)
    credentials = boto3.Session(profile_name="mdh").get_credentials()
    assert credentials.method == "custom-process"
    assert credentials.get_frozen_credentials().access_key
    assert world.emulator.count("exchange") == 1
