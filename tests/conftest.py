"""Shared fixtures: a ``World`` that holds the emulator, an account, an isolated AWS config, and
runs ``mdh-creds`` in process or as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mdh_creds.cli.main import main
from mdh_creds.models import TemporaryCredentials
from mdh_creds.testing import MintRequest
from mdh_creds.testing.emulator import MdhEmulator
from mdh_creds.testing.pytest_plugin import EmulatorAccount

pytest_plugins = ["servers"]

# Variables of the surrounding shell that would leak into the tests' AWS or MDH settings.
_SCRUB_PREFIXES = ("AWS_", "MDH_", "RKS_", "PYTHON_KEYRING", "DBUS_SESSION")
_SCRUB_NAMES = {
    "SECRET_NAME",
    "IS_LOCAL",
    "URL",
    "SCOPE",
    "INTERVAL",
    "RETRIES",
    "CONSUMER_KEY",
    "CONSUMER_SECRET",
    "XDG_CACHE_HOME",
}

# What a cache hit served by a fast path (``cli.fastpath``) must not load: heavy libraries and
# the standard modules the fast path was written to avoid.
HEAVY = (
    "argparse",
    "logging",
    "dataclasses",
    "datetime",
    "keyring",
    "requests",
    "jwt",
    "boto3",
    "botocore",
    "hashlib",  # a second OpenSSL (_hashlib): ~3 ms; cryptography's hashes serve a hit
    "base64",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first, in their order: run in parallel (``make test``), the long
    waits start early and short tests fill in around them, so the workers finish together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_NAMES
    }
    env.update(extra or {})
    return env


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class World:
    """An isolated machine: HOME, AWS config, cache folder, and the emulator with one account."""

    tmp: Path
    emulator: MdhEmulator
    account: EmulatorAccount
    profile: str = "mdh"
    keys: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.tmp / "aws" / "config"

    @property
    def credentials_file(self) -> Path:
        return self.tmp / "aws" / "credentials"

    @property
    def cache_dir(self) -> Path:
        return self.tmp / "cache"

    def write_profile(self, **changes: str | None) -> None:
        """Rewrite the profile: defaults, then ``changes`` (None removes a key)."""
        for key, value in changes.items():
            if value is None:
                self.keys.pop(key, None)
            else:
                self.keys[key] = value
        lines = [f"[profile {self.profile}]"] + [f"{k} = {v}" for k, v in self.keys.items()]
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not self.credentials_file.exists():
            self.credentials_file.write_text("", encoding="utf-8")

    def env(self, **extra: str) -> dict[str, str]:
        env = clean_environ(
            {
                "HOME": str(self.tmp / "home"),
                "XDG_CACHE_HOME": str(self.tmp / "xdg-cache"),
                "AWS_CONFIG_FILE": str(self.config),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PROFILE": self.profile,
            }
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 90, **extra: str) -> Result:
        """``python -m mdh_creds ARGS`` as a real process."""
        done = subprocess.run(
            [sys.executable, "-m", "mdh_creds", *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def main(self, *args: str, **extra: str) -> Result:
        """The same command in this process (faster; same code path)."""
        out, err = io.StringIO(), io.StringIO()
        code = main(list(args), self.env(**extra), out, err)
        return Result(code, out.getvalue(), err.getvalue())

    def state(self, kind: str = "credentials", **extra: str) -> str | None:
        """What ``status`` calls the cached entry of ``kind``: ``fresh``, ``stale``, ``expired``
        (``unreadable`` when it does not open), or ``None`` when there is none. A whole command
        in this process: poll it every 0.1 s, not faster."""
        status = json.loads(self.main("status", "--json", **extra).out)
        states = [entry["state"] for entry in status["entries"] if entry["kind"] == kind]
        return states[0] if states else None

    def plant_credentials(self, *, left: timedelta, lifetime: timedelta) -> TemporaryCredentials:
        """A valid file-cache entry for the profile (sealed as ours are) with ``left`` of
        ``lifetime`` left."""
        from mdh_creds.cache.backends import select
        from mdh_creds.cache.stored import KIND_CREDENTIALS, CacheKey
        from mdh_creds.mdh.account import resolve
        from mdh_creds.settings.model import parse_settings

        env = self.env()
        account = resolve(parse_settings(env), env)
        key = CacheKey.for_identity(account.identity, KIND_CREDENTIALS)
        now = datetime.now(timezone.utc)
        creds = TemporaryCredentials(
            "ASIAPLANTED0000000001",
            "planted-secret-access-key",
            "planted-session-token",
            expires_at=now + left,
            issued_at=now + left - lifetime,
        )
        sealed = account.sealer().seal(key, creds.to_payload())
        select("file", folder=self.cache_dir).save(key, sealed, creds.expires_at)
        return creds


def need_shell(name: str) -> str:
    """The path of shell ``name``. Where it is missing the test is skipped with the reason, and
    under ``MDH_CREDS_REQUIRE_SHELLS=1`` (CI: ``.ci/run`` installs fish and zsh) it fails."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (CI installs it: .ci/run)"
        if os.environ.get("MDH_CREDS_REQUIRE_SHELLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def wait_for(
    condition: Callable[[], object], what: str, timeout: float = 30, every: float = 0.02
) -> None:
    """Poll ``condition`` every ``every`` s until it is true: waits on what a test needs, never a
    fixed time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


@pytest.fixture(autouse=True)
def _no_memoized_secrets() -> Iterator[None]:
    """Each test reads its own Secrets Manager secrets: the per-process memo starts empty."""
    from mdh_creds.mdh.secrets import forget_secrets

    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def world(tmp_path: Path, mdh_emulator: MdhEmulator, mdh_account: EmulatorAccount) -> World:
    w = World(tmp_path, mdh_emulator, mdh_account)
    (tmp_path / "home").mkdir()
    w.write_profile(
        mdh_service_account=mdh_account.name,
        mdh_private_key_file=str(mdh_account.key_file),
        mdh_project_code=mdh_account.project_code,
        mdh_token_url=mdh_emulator.token_url,
        mdh_exchange_url=mdh_emulator.legacy_exchange_url,
        mdh_cache="file",
        mdh_cache_dir=str(w.cache_dir),
        mdh_retry_interval_ms="10",
        mdh_timeout="5",
        region="us-east-1",
    )
    return w


def secrets_of(world: World, *extra: Any) -> list[str]:
    """Every secret a run may have seen: the private key body, tokens, assertions, keys."""
    found = [world.account.key_pair.private_pem.split("-----")[2].strip().splitlines()[1]]
    for request in world.emulator.requests:
        assertion = (request.form or {}).get("client_assertion")
        if assertion:
            found.append(assertion)
        auth = request.headers.get("Authorization")
        if auth:
            found.append(auth)
    found += [str(x) for x in extra if x]
    return found


class HeldFirst:
    """A minter that holds the first exchange inside MDH until ``release`` is set (``entered``
    says it got there): a holder stuck mid-exchange, then ``sequence_minter``'s answers."""

    def __init__(self, hold: float = 30) -> None:
        from mdh_creds.testing import sequence_minter

        self.entered, self.release = threading.Event(), threading.Event()
        self._hold, self._then = hold, sequence_minter()

    def __call__(self, request: MintRequest) -> Mapping[str, str]:
        if request.sequence == 1:
            self.entered.set()
            self.release.wait(self._hold)
        return self._then(request)
