"""``mdh-creds exec`` as a supervisor, through real processes: Ctrl-C typed on a real pseudo-
terminal reaches the child once, ``exec`` dies of the signal its child died of, every signal sent
to ``exec`` reaches the child, orphans are reaped when ``exec`` is PID 1 of a PID namespace, and
a SIGKILLed ``exec`` takes its child with it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import World

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux signals")

# Counts the SIGINTs it gets for half a second after the first, says how many, then dies of it.
COUNTING_CHILD = """
import os, signal, sys, time
got = []
signal.signal(signal.SIGINT, lambda n, f: got.append(n))
print("ready", flush=True)
while not got:
    time.sleep(0.01)
time.sleep(0.5)
print(f"interrupts={len(got)}", flush=True)
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGINT)
"""
# Says the name of every signal it gets; ends on SIGTERM.
NAMING_CHILD = """
import os, signal, sys, time
names = sys.argv[1].split(",")
done = []
def note(number, frame):
    name = signal.Signals(number).name
    print(name, flush=True)
    if name == "SIGTERM":
        done.append(name)
for name in names:
    signal.signal(getattr(signal, name), note)
print("ready", os.getpid(), flush=True)
while not done:
    time.sleep(0.01)
"""
# Leaves an orphan (it ends 0.2 s later), then waits for it to be reaped: gone, not a zombie.
ORPHAN_CHILD = """
import os, time
reader, writer = os.pipe()
middle = os.fork()
if middle == 0:
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(0.2)
        os._exit(0)
    os.write(writer, str(grandchild).encode())
    os._exit(0)
os.waitpid(middle, 0)
orphan = int(os.read(reader, 64))
deadline = time.monotonic() + 10
state = "?"
while time.monotonic() < deadline:
    try:
        with open(f"/proc/{orphan}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        print("reaped", flush=True)
        break
    time.sleep(0.02)
else:
    print(f"not reaped: state {state}", flush=True)
"""
FORWARDED = ["SIGUSR1", "SIGUSR2", "SIGALRM", "SIGWINCH", "SIGQUIT", "SIGHUP", "SIGINT", "SIGURG"]


def _exec_argv(*child: str) -> list[str]:
    return [sys.executable, "-m", "mdh_creds", "exec", "--", sys.executable, "-c", *child]


def _read_line(fd: int, deadline: float, buffer: bytearray) -> str:
    """The next line from ``fd`` (a pty or a pipe), waiting until ``deadline``."""
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        assert left > 0, f"no line before the deadline; got {bytes(buffer)!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pty's other side closed
                chunk = b""
            assert chunk, f"closed; got {bytes(buffer)!r}"
            buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode().strip()


def _wait(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, status = os.waitpid(pid, os.WNOHANG)
        if found:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    pytest.fail("exec did not end")


def test_one_ctrl_c_on_a_terminal_reaches_the_child_once_and_exec_dies_of_it(
    world: World,
) -> None:
    argv, env = _exec_argv(COUNTING_CHILD), world.env()
    pid, terminal = os.forkpty()
    if pid == 0:  # the child: a session of its own on the pty, as a shell would start it
        try:
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    buffer = bytearray()
    deadline = time.monotonic() + 60
    try:
        while _read_line(terminal, deadline, buffer) != "ready":
            pass
        os.write(terminal, b"\x03")  # Ctrl-C: the terminal signals the foreground group
        line = _read_line(terminal, deadline, buffer)  # after the terminal's echo: "^C"
        while "interrupts=" not in line:
            line = _read_line(terminal, deadline, buffer)
        status = _wait(pid)
    finally:
        os.close(terminal)
    assert line.rpartition("interrupts=")[2] == "1"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT


def test_every_forwardable_signal_sent_to_exec_reaches_the_child(world: World) -> None:
    names = [*FORWARDED, "SIGTERM"]
    process = subprocess.Popen(
        _exec_argv(NAMING_CHILD, ",".join(names)),
        env=world.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    buffer = bytearray()
    deadline = time.monotonic() + 60
    try:
        assert _read_line(process.stdout.fileno(), deadline, buffer).startswith("ready")
        for name in names:  # one at a time: each must arrive, once, before the next is sent
            process.send_signal(getattr(signal, name))
            assert _read_line(process.stdout.fileno(), deadline, buffer) == name
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert not buffer.strip()  # nothing came twice


def test_exec_dies_of_the_signal_its_child_died_of(world: World) -> None:
    child = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    done = subprocess.run(
        _exec_argv(child), env=world.env(), capture_output=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert done.stderr == b""


def _pid_namespace_missing() -> str | None:
    """Why ``unshare --pid`` cannot run here, or None."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False
    )
    return f"no PID namespace here: {probe.stderr.decode().strip()}" if probe.returncode else None


def test_as_pid_1_exec_reaps_the_orphans_of_its_child(world: World) -> None:
    missing = _pid_namespace_missing()
    if missing:  # CI runs as root with util-linux: there it must run
        if os.environ.get("MDH_CREDS_REQUIRE_PID_NAMESPACE") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    argv = ["unshare", "--pid", "--fork", "--mount-proc", *_exec_argv(ORPHAN_CHILD)]
    done = subprocess.run(
        argv, env=world.env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "reaped", done.stderr
    assert done.returncode == 0


def test_a_sigkilled_exec_takes_its_child_with_it(world: World) -> None:
    process = subprocess.Popen(
        _exec_argv(NAMING_CHILD, "SIGTERM"), env=world.env(), stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    buffer = bytearray()
    line = _read_line(process.stdout.fileno(), time.monotonic() + 60, buffer)
    child = int(line.split()[1])
    process.kill()
    process.wait(30)
    assert _read_line(process.stdout.fileno(), time.monotonic() + 10, buffer) == "SIGTERM"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.02)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has ended: its parent just has not reaped it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_exec_logs_json_lines_when_asked(world: World) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mdh_creds", "exec", "--log-format", "json", "--", "no-such-cmd"],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 127
    lines = done.stderr.splitlines()
    assert lines and all(json.loads(line) for line in lines)
    assert any("command not found" in json.loads(line)["message"] for line in lines)
