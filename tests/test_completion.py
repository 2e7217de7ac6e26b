"""``mdh-creds completion bash|zsh|fish``, loaded by the real shells as a user loads them: bash
through its ``complete -F`` function, fish through ``complete -C``, zsh in an interactive shell
on a terminal where TAB is pressed. Profile names come from the AWS config file at TAB time."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import need_shell
from mdh_creds.cli.main import COMMANDS
from mdh_creds.settings.specs import CACHE_CHOICES

SCRIPT = Path(sys.executable).parent / "mdh-creds"
CONFIG = "[profile mdh]\nmdh_service_account = a\n[profile other]\nregion = us-east-1\n[default]\n"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """A user's environment whose AWS config holds three profiles."""
    (tmp_path / "config").write_text(CONFIG, encoding="utf-8")
    return {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "TERM": "dumb",
    }


def completion_script(shell: str, home: dict[str, str]) -> Path:
    done = subprocess.run(
        [str(SCRIPT), "completion", shell],
        env=home,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr == ""
    path = Path(home["HOME"]) / f"mdh-creds.{shell}"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def bash_complete(home: dict[str, str], *words: str) -> list[str]:
    """COMPREPLY for the command line ``words`` (the last is the word being completed)."""
    script = completion_script("bash", home)
    quoted = " ".join(f"'{word}'" for word in words)
    program = (
        f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
        '_mdh_creds; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", program],
        env=home,
        cwd=home["HOME"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (("mdh-creds", "pro"), ["process"]),
        (("mdh-creds", ""), [*COMMANDS, "--help", "-h", "--version"]),
        (("mdh-creds", "status", "--j"), ["--json"]),
        (("mdh-creds", "exec", "--profile"), ["--profile-env", "--profile"]),
        (("mdh-creds", "status", "--profile", ""), ["mdh", "other", "default"]),
        (("mdh-creds", "--profile", "o"), ["other"]),
        (("mdh-creds", "status", "--cache", "d"), ["dynamodb"]),
        (("mdh-creds", "completion", ""), ["bash", "zsh", "fish"]),
        (("mdh-creds", "--profile", "status", "st"), ["status"]),  # a value, not the command
        (("mdh-creds", "exec", "--", "whoam"), ["whoami"]),  # the command exec runs
    ],
)
def test_bash_completes_commands_flags_choices_and_profiles(
    home: dict[str, str], words: tuple[str, ...], offered: list[str]
) -> None:
    found = bash_complete(home, *words)
    if words[-1]:
        assert list(dict.fromkeys(found)) == offered  # compgen -c: once per PATH folder
    else:
        assert set(offered) <= set(found), found


def test_bash_completes_a_key_file_name(home: dict[str, str]) -> None:
    (Path(home["HOME"]) / "service-account.pem").write_text("")
    found = bash_complete(home, "mdh-creds", "configure", "--private-key-file", "serv")
    assert found == ["service-account.pem"]


def fish_complete(home: dict[str, str], line: str) -> list[str]:
    need_shell("fish")
    script = completion_script("fish", home)
    done = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
        env=home,
        cwd=home["HOME"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_fish_completes_commands_with_their_help(home: dict[str, str]) -> None:
    assert fish_complete(home, "mdh-creds pro") == [
        "process\tprint credential_process JSON (the default command)"
    ]
    assert fish_complete(home, "mdh-creds status --j") == ["--json\tprint JSON"]
    assert fish_complete(home, "mdh-creds completion ") == ["bash", "fish", "zsh"]


def test_fish_completes_profiles_from_the_aws_config(home: dict[str, str]) -> None:
    found = fish_complete(home, "mdh-creds status --profile ")
    assert sorted(line.split("\t")[0] for line in found) == ["default", "mdh", "other"]
    found = fish_complete(home, "mdh-creds clear --cache ")
    assert sorted(line.split("\t")[0] for line in found) == sorted(CACHE_CHOICES)


def test_fish_completes_the_command_exec_runs_then_its_words(home: dict[str, str]) -> None:
    (Path(home["HOME"]) / "service-account.pem").touch()
    assert "whoami" in [
        line.split("\t")[0] for line in fish_complete(home, "mdh-creds exec -- whoam")
    ]
    found = fish_complete(home, "mdh-creds exec --profile mdh -- cat serv")
    assert found == ["service-account.pem"]
    assert fish_complete(home, "mdh-creds status serv") == []  # no file words outside exec's --


# --- zsh: an interactive shell on a terminal, TAB pressed --------------------------------------


def test_zsh_script_parses(home: dict[str, str]) -> None:
    need_shell("zsh")
    script = completion_script("zsh", home)
    subprocess.run(["zsh", "-n", str(script)], env=home, timeout=60, check=True)


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("mdh-creds pro", "mdh-creds process"),
        ("mdh-creds status --j", "mdh-creds status --json"),
        ("mdh-creds status --profile ot", "mdh-creds status --profile other"),
        ("mdh-creds completion f", "mdh-creds completion fish"),
        ("mdh-creds exec -- whoam", "mdh-creds exec -- whoami"),
    ],
)
def test_zsh_completes_on_tab(home: dict[str, str], typed: str, completed: str) -> None:
    need_shell("zsh")
    script = completion_script("zsh", home)
    assert zsh_line_after_tab(home, script, typed) == completed


def zsh_line_after_tab(home: dict[str, str], script: Path, typed: str) -> str:
    """The command line after typing ``typed`` and TAB in an interactive zsh (compinit, then
    the script loaded as ~/.zshrc would), read back by running ``echo`` on it."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive zsh with no startup files
        os.execvpe("zsh", ["zsh", "-f", "-i"], home)
    try:
        setup = f"PS1='> '; autoload -U compinit; compinit -u -D; source {script}; echo READY"
        os.write(fd, (setup + "\n").encode())
        read_until(fd, "READY\r\n")
        # TAB, then Ctrl-A, the echo, Ctrl-E, the closing marker, Enter: the line is printed.
        os.write(fd, f"{typed}\t".encode())
        os.write(fd, b"\x01echo '<<'\x05'>>'\n")
        out = read_until(fd, ">>\r\n")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    printed = out.rsplit("\r\n<<", 1)[-1]
    return printed.split(">>", 1)[0].strip()


def read_until(fd: int, marker: str, timeout: float = 30) -> str:
    """What the terminal shows until ``marker`` appears (bounded in time)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        assert time.monotonic() < deadline, f"zsh never printed {marker!r}: {seen[-300:]!r}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            seen += os.read(fd, 4096)
    return seen.decode(errors="replace")


def test_completion_without_a_shell_is_a_usage_error(home: dict[str, str]) -> None:
    done = subprocess.run(
        [str(SCRIPT), "completion"],
        env=home,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr == "mdh-creds: completion needs a shell: mdh-creds completion bash|zsh|fish\n"
    )
