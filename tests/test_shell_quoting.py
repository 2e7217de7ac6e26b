"""One quoting function per export format, checked against the shell that reads it: random values
from all of Unicode are exported and read back by bash, dash and fish, and come back equal, or
are refused, and only when no variable of that shell can hold them (NUL, lone surrogates).
PowerShell cannot run here: what we write is read with its tokenizer's grammar
(``powershell_grammar``). cmd.exe and INI values are checked against their own rules."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from botocore.configloader import raw_config_parse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import need_shell
from mdh_creds.formats import export_line, quote_powershell, to_export
from mdh_creds.models import TemporaryCredentials
from powershell_grammar import SINGLE_QUOTES, read_assignments, read_expression

SPECIAL = "'\"\\$`!%^&|;<>()*?[]{}~#=\n\r\t \x00\x7f\u2018\u2019\u201a\u201b\u2028\u00a0\ufeff"
CHARS = st.one_of(
    st.characters(),  # every code point but the surrogates
    st.integers(0xD800, 0xDFFF).map(chr),  # lone surrogates: not text, must be refused
    st.sampled_from(SPECIAL),
    st.sampled_from(SPECIAL),
)
VALUES = st.lists(st.text(alphabet=CHARS, max_size=12), min_size=1, max_size=8)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def unholdable(value: str) -> bool:
    """What no variable of a POSIX shell, fish or PowerShell can hold."""
    return "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


def script_for(fmt: str, values: list[str]) -> tuple[str, list[int]]:
    """The export lines of the values not refused, as V0, V1...; their indexes in ``values``."""
    lines, kept = [], []
    for index, value in enumerate(values):
        try:
            line = export_line(fmt, f"V{len(kept)}", value)
        except ValueError:
            assert unholdable(value), repr(value)
            continue
        assert not unholdable(value), repr(value)
        lines.append(line)
        kept.append(index)
    return "".join(line + "\n" for line in lines), kept


def read_back(
    argv: Callable[[Path, str], list[str]], script: str, count: int, tmp: Path
) -> list[str]:
    (tmp / "home").mkdir(exist_ok=True)
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    path = work / "exported"
    path.write_bytes(script.encode("utf-8"))
    names = " ".join(f'"$V{i}"' for i in range(count))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        argv(path, names), cwd=work, env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert list(work.iterdir()) == [path], "the script ran something"
    return [part.decode("utf-8") for part in done.stdout.split(b"\0")[:-1]]


def posix(shell: str) -> Callable[[Path, str], list[str]]:
    def argv(path: Path, names: str) -> list[str]:
        return [shell, "-c", f'eval "$(cat "$1")"; printf "%s\\0" {names}', shell, str(path)]

    return argv


def fish(path: Path, names: str) -> list[str]:
    return ["fish", "--no-config", "-c", f"source $argv[1]; printf '%s\\0' {names}", str(path)]


@pytest.mark.parametrize(
    ("fmt", "shell", "argv"),
    [
        ("env", "bash", posix("bash")),
        ("env-no-export", "bash", posix("bash")),
        ("env", "sh", posix("sh")),
        ("fish", "fish", fish),
    ],
)
@QUICK
@given(values=VALUES)
@example(values=["it's", "a\\'b", "\\", "$(touch pwned)", "`touch pwned`", "\n", ""])
def test_the_shell_reads_back_what_was_exported(
    tmp_path_factory: pytest.TempPathFactory,
    fmt: str,
    shell: str,
    argv: Callable[[Path, str], list[str]],
    values: list[str],
) -> None:
    need_shell(shell)
    script, kept = script_for(fmt, values)
    if not kept:
        return
    tmp = tmp_path_factory.mktemp(shell)
    assert read_back(argv, script, len(kept), tmp) == [values[i] for i in kept]


@settings(max_examples=2000, deadline=None)
@given(value=st.text(alphabet=CHARS, max_size=16))
@example(value="a\u2018; Remove-Item -Recurse ~; '")
@example(value="\u0451")  # UTF-8 D1 91: 0x91 is U+2018 in cp1252
def test_powershell_reads_back_what_was_exported(value: str) -> None:
    try:
        line = export_line("powershell", "V", value)
    except ValueError:
        assert unholdable(value)
        return
    assert not unholdable(value)
    assert all(" " <= ch <= "~" for ch in line), "only printable ASCII, whatever the code page"
    assert read_assignments([line]) == {"V": value}


def test_the_grammar_ends_a_string_at_every_single_quote() -> None:
    """The reader above is PowerShell's, not ours: quoting that only doubles ``'`` fails it."""
    for quote in SINGLE_QUOTES[1:]:  # the four typographic ones
        naive = "'" + f"a{quote}; evil".replace("'", "''") + "'"
        with pytest.raises(ValueError, match="unexpected text"):
            read_expression(naive)
    assert read_expression("'a''b' + [char]0x2018 + 'c'") == "a'b\u2018c"
    assert quote_powershell("x\U0001f600") == "'x' + [char]0xD83D + [char]0xDE00"


CMD_SPECIAL = set('%!^"&|<>()\r\n')  # expansion, escape, quoting, operators, line ends
CREDENTIAL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.:,@"


@settings(max_examples=1000, deadline=None)
@given(value=st.text(alphabet=CHARS, max_size=16))
@example(value="AKIA0123/abc+def==")
def test_cmd_writes_only_what_its_grammar_leaves_alone(value: str) -> None:
    """cmd.exe: what is written holds nothing cmd interprets inside ``set "V=..."``; what any
    credential is made of (base64 and the ISO time) is always written."""
    try:
        line = export_line("windows-cmd", "V", value)
    except ValueError:
        assert not set(value) <= set(CREDENTIAL_ALPHABET)
        return
    assert line == f'set "V={value}"'
    assert not set(value) & CMD_SPECIAL and value.isascii() and value.isprintable()


def credentials(secret: str) -> TemporaryCredentials:
    moment = datetime(2030, 1, 1, tzinfo=timezone.utc)
    return TemporaryCredentials("ASIAEXAMPLE", secret, "token", moment, moment)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=st.text(alphabet=CHARS, max_size=16))
def test_ini_values_are_read_back_by_botocore(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    try:
        text = to_export(credentials(value), "ini", "eu-west-1", "mdh")
    except ValueError:
        assert unholdable(value) or value != value.strip() or {"\r", "\n"} & set(value)
        return
    path = tmp_path_factory.mktemp("ini") / "credentials"
    path.write_bytes(text.encode("utf-8"))
    assert raw_config_parse(str(path))["mdh"]["aws_secret_access_key"] == value
