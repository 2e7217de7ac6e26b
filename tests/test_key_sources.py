"""Keys kept off disk without KMS: an encrypted PEM opened with its passphrase (from
``MDH_PRIVATE_KEY_PASSPHRASE``, the OS keyring, or the terminal for ``configure`` and ``status``
only), and the key itself moved into the OS keyring. A real Secret Service, real subprocesses,
and a real pseudo-terminal where a terminal is the point."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import World
from test_fastpath import run_script

PASSPHRASE = "correct horse battery staple"
# Opening an encrypted key needs cryptography's serialization module, which loads dataclasses
# itself; nothing else of the full command may load on such a hit.
OPENING = ["dataclasses"]
WRONG = "Tr0ub4dor&3 not it"


def write_encrypted_key(world: World, traditional: bool = False) -> Path:
    """The account's key, encrypted with ``PASSPHRASE`` (PKCS#8, or OpenSSL's old form), 0600."""
    key = serialization.load_pem_private_key(
        world.account.key_pair.private_pem.encode("ascii"), password=None
    )
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if traditional
        else serialization.PrivateFormat.PKCS8
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        fmt,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    path = world.tmp / ("traditional.pem" if traditional else "encrypted.pem")
    path.write_bytes(pem)
    path.chmod(0o600)
    world.write_profile(mdh_private_key_file=str(path), mdh_scope=f"api {uuid.uuid4().hex}")
    return path


def on_terminal(world: World, args: list[str], answer: str | None, **env: str) -> tuple[int, str]:
    """Run ``mdh-creds ARGS`` with a pseudo-terminal as its controlling terminal; type
    ``answer`` when it asks for a passphrase. Its exit code and everything it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become mdh-creds
        os.execve(sys.executable, [sys.executable, "-m", "mdh_creds", *args], world.env(**env))
    output, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"no end within 60 s: {output!r}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if answer is not None and not answered and b"Passphrase" in output:
                os.write(fd, answer.encode() + b"\n")
                answered = True
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


@pytest.mark.parametrize("traditional", [False, True], ids=["pkcs8", "openssl-traditional"])
def test_passphrase_from_the_variable(world: World, traditional: bool) -> None:
    write_encrypted_key(world, traditional)
    first = world.run("process", MDH_PRIVATE_KEY_PASSPHRASE=PASSPHRASE)
    assert first.code == 0, first.err
    result, loaded = run_script(world, MDH_PRIVATE_KEY_PASSPHRASE=PASSPHRASE)
    assert result.code == 0 and result.out == first.out
    assert loaded == OPENING  # a hit with an encrypted key is the fast path's too
    assert world.emulator.count("token") == 1


def test_an_encrypted_copy_seals_as_the_plain_key_does(world: World) -> None:
    scope = f"api {uuid.uuid4().hex}"
    world.write_profile(mdh_scope=scope)
    first = world.run("process")
    assert first.code == 0, first.err
    write_encrypted_key(world)
    world.write_profile(mdh_scope=scope)
    again = world.run("process", MDH_PRIVATE_KEY_PASSPHRASE=PASSPHRASE)
    assert again.code == 0 and again.out == first.out
    assert world.emulator.count("token") == 1


def test_a_wrong_passphrase_is_exit_3_and_never_echoed(world: World) -> None:
    write_encrypted_key(world)
    for run in (world.run, world.main):
        result = run("process", MDH_PRIVATE_KEY_PASSPHRASE=WRONG)
        assert result.code == 3, result.err
        assert "wrong passphrase" in result.err and "MDH_PRIVATE_KEY_PASSPHRASE" in result.err
        assert WRONG not in result.text and PASSPHRASE not in result.text
        assert len(result.err.strip().splitlines()) == 1
    assert world.emulator.count("token") == 0


def test_process_never_asks_even_on_a_terminal(world: World) -> None:
    write_encrypted_key(world)
    code, output = on_terminal(world, ["process"], answer=None)
    assert code == 3, output
    assert "Passphrase" not in output
    assert "MDH_PRIVATE_KEY_PASSPHRASE" in output and "--store-passphrase" in output


def test_status_asks_on_the_terminal(world: World) -> None:
    write_encrypted_key(world)
    code, output = on_terminal(world, ["status"], answer=PASSPHRASE)
    assert code == 0, output
    assert "Passphrase of the MDH service account's private key:" in output
    assert PASSPHRASE not in output  # no echo
    assert "error" not in output.split("Passphrase", 1)[1]


def test_status_with_a_wrong_answer_on_the_terminal_is_exit_3(world: World) -> None:
    write_encrypted_key(world)
    code, output = on_terminal(world, ["status"], answer=WRONG)
    assert code == 3, output
    assert "wrong passphrase" in output and WRONG not in output


def test_configure_asks_for_the_passphrase_of_a_key_file_on_the_terminal(world: World) -> None:
    path = write_encrypted_key(world)
    args = ["configure", "--profile", "other", "--private-key-file", str(path)]
    code, output = on_terminal(world, args, answer=PASSPHRASE)
    assert code == 0, output
    assert "wrote profile other" in output


def test_passphrase_from_the_keyring(world: World, keyring_env: dict[str, str]) -> None:
    write_encrypted_key(world)
    world.extra_env.update(keyring_env)
    stored = subprocess.run(
        [sys.executable, "-m", "mdh_creds", "configure", "--profile", "mdh", "--store-passphrase"],
        input=PASSPHRASE + "\n",
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stored.returncode == 0, stored.stderr
    assert PASSPHRASE not in stored.stderr + stored.stdout
    first = world.run("process")
    assert first.code == 0, first.err
    result, loaded = run_script(world)
    assert result.code == 0 and result.out == first.out and loaded == OPENING
    assert world.emulator.count("token") == 1


def test_store_passphrase_refuses_a_wrong_one(world: World, keyring_env: dict[str, str]) -> None:
    write_encrypted_key(world)
    world.extra_env.update(keyring_env)
    result = world.run("configure", "--store-passphrase", MDH_PRIVATE_KEY_PASSPHRASE=WRONG)
    assert result.code == 3 and "nothing stored" in result.err
    assert WRONG not in result.text
    assert world.run("process").code == 3  # nothing was kept


def test_key_to_keyring_moves_the_key_and_keeps_the_file(
    world: World, keyring_env: dict[str, str]
) -> None:
    world.extra_env.update(keyring_env)
    world.write_profile(mdh_scope=f"api {uuid.uuid4().hex}")
    key_file = world.account.key_file
    result = world.run("configure", "--profile", "mdh", "--key-to-keyring")
    assert result.code == 0, result.err
    assert key_file.is_file() and f"kept {key_file}" in result.err
    profile = world.config.read_text(encoding="utf-8")
    assert "mdh_private_key_file" not in profile
    assert f"mdh_private_key_keyring = {world.account.name}" in profile
    key_file.rename(world.tmp / "moved-away.pem")  # the key is no longer on disk
    first = world.run("process")
    assert first.code == 0, first.err
    result, loaded = run_script(world)
    assert result.code == 0 and result.out == first.out and loaded == []
    assert world.emulator.count("token") == 1


def test_a_keyring_name_with_no_key_is_exit_3(world: World, keyring_env: dict[str, str]) -> None:
    world.extra_env.update(keyring_env)
    world.write_profile(mdh_private_key_file=None, mdh_private_key_keyring="nobody-here")
    result = world.run("process")
    assert result.code == 3
    assert "'nobody-here'" in result.err and "--key-to-keyring" in result.err
