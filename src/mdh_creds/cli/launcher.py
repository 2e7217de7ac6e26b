"""The command line that starts this mdh-creds, as ``credential_process`` holds it, and whether a
profile's ``credential_process`` names a program that can be started.

botocore splits ``credential_process`` into words (``shlex`` on POSIX, the Windows rules on
Windows) and runs it without a shell, from whatever folder and ``PATH`` the caller has: only an
absolute program path works everywhere (AWS's own documentation asks for one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

SCRIPT_NAME = "mdh-creds"


def own_argv(argv0: str | None = None, executable: str | None = None) -> list[str]:
    """The absolute command that runs this mdh-creds: the console script when that is what
    runs now, else ``<python> -m mdh_creds`` (the interpreter of this environment, unresolved,
    so a virtual environment's python keeps its packages)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    stem = os.path.splitext(os.path.basename(argv0))[0]
    if stem == SCRIPT_NAME and os.path.isfile(argv0):
        return [os.path.abspath(argv0)]
    return [os.path.abspath(executable), "-m", "mdh_creds"]


def join_words(words: list[str]) -> str:
    """``words`` as one line that botocore splits back into the same words."""
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline(words)
    import shlex

    return shlex.join(words)


def split_words(line: str) -> list[str]:
    """The words of a ``credential_process`` line (``ValueError`` for unbalanced quotes)."""
    if os.name == "nt":
        from botocore.compat import compat_shell_split

        return list(compat_shell_split(line))
    import shlex

    return shlex.split(line)


def process_command(profile: str) -> str:
    """The ``credential_process`` value for ``profile``."""
    return join_words([*own_argv(), "process", "--profile", profile])


def is_own_command(line: str) -> bool:
    """True when ``line`` starts mdh-creds (its script by any path, or ``python -m mdh_creds``)."""
    try:
        words = split_words(line)
    except ValueError:
        return False
    if not words:
        return False
    stem = os.path.splitext(os.path.basename(words[0]))[0]
    return stem == SCRIPT_NAME or words[1:3] == ["-m", "mdh_creds"]


@dataclass(frozen=True)
class ProgramCheck:
    """What a ``credential_process`` starts: the program, where it was found, and a warning
    (one line, saying what to do) when it cannot be started from everywhere."""

    program: str | None
    found_at: str | None
    warning: str | None

    @property
    def found(self) -> bool:
        return self.found_at is not None


def check_process(line: str | None, profile: str, environ: Mapping[str, str]) -> ProgramCheck:
    """Check that the program of ``credential_process`` exists and may be run."""
    fix = f"run mdh-creds configure --profile {profile} to write it"
    if not line:
        return ProgramCheck(None, None, f"profile {profile} has no credential_process: {fix}")
    try:
        words = split_words(line)
    except ValueError:
        words = []
    if not words:
        return ProgramCheck(
            None, None, f"the credential_process of profile {profile} cannot be read: {fix}"
        )
    program = words[0]
    if os.path.isabs(program):
        return _check_absolute(program, profile, fix)
    return _check_relative(program, profile, environ)


def _check_absolute(program: str, profile: str, fix: str) -> ProgramCheck:
    if not os.path.isfile(program):
        why = "does not exist"
    elif os.name != "nt" and not os.access(program, os.X_OK):
        why = "is not executable"
    else:
        return ProgramCheck(program, program, None)
    return ProgramCheck(
        program,
        None,
        f"the credential_process of profile {profile} runs {program}, which {why}: {fix} again",
    )


def _check_relative(program: str, profile: str, environ: Mapping[str, str]) -> ProgramCheck:
    import shutil

    if os.sep in program or (os.altsep and os.altsep in program):  # relative to the caller's cwd
        found = os.path.abspath(program) if os.path.isfile(program) else None
    else:
        found = shutil.which(program, path=environ.get("PATH"))
    where = f"found here at {found}" if found else "not found on this PATH"
    return ProgramCheck(
        program,
        found,
        f"the credential_process of profile {profile} runs {program} without a full path "
        f"({where}); the AWS CLI and SDKs find it only where their PATH holds it: run "
        f"mdh-creds configure --profile {profile} to write the absolute path",
    )
