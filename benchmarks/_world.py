"""The isolated world every benchmark runs in: a temp HOME and AWS config, the MDH emulator with
one account, a moto server behind a counting proxy (every DynamoDB request of mdh-creds goes
through it), a DynamoDB table and (when it can run) a private Secret Service.

Each child gets an environment built from scratch here: the parent's AWS_*, MDH_* and keyring or
D-Bus variables are scrubbed, HOME and the AWS config files point into the temp folder, and the
EC2 metadata lookup is disabled.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdh_creds.testing.emulator import MdhEmulator
from mdh_creds.testing.keys import generate_key_pair
from mdh_creds.testing.minters import moto_iam_minter
from mdh_creds.testing.proxy import CountingProxy
from mdh_creds.testing.servers import (
    ServerError,
    private_xdg,
    start_moto,
    start_secret_service,
)

ACCOUNT = "MyDataHelps.BENCH.app"
PROJECT_CODE = "RK.BENCH.Project"
PROFILE = "mdh"
STATIC_PROFILE = "static"
TABLE = "mdh-creds-bench"
SECRET_ID = "mdh-bench/service-account"
REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_SCRUB_PREFIXES = ("AWS_", "MDH_", "RKS_", "PYTHON_KEYRING", "DBUS_SESSION", "XDG_", "BOTO_")
_SCRUB_NAMES = {"SECRET_NAME", "IS_LOCAL", "URL", "SCOPE", "INTERVAL", "RETRIES", "PYTHONSTARTUP"}


def scrubbed_environ() -> dict[str, str]:
    """The parent's environment without anything that would steer AWS, MDH or the keyring, and
    without PYTHONDONTWRITEBYTECODE: an installed package runs from compiled bytecode, and
    recompiling stale modules on every run would be measured as start-up time."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUB_PREFIXES)
        and k not in _SCRUB_NAMES
        and k != "PYTHONDONTWRITEBYTECODE"
    }


def compile_package() -> None:
    """Write up-to-date bytecode for mdh_creds, as ``pip install`` does for a regular install."""
    import compileall

    import mdh_creds

    compileall.compile_dir(str(Path(mdh_creds.__file__).parent), quiet=1)


def boto_client(service: str, url: str) -> Any:
    """A boto3 client for moto with the fake credentials (the benchmark's own setup calls)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


_MINT_ROUNDS = itertools.count(1)


@dataclass
class World:
    """Paths, servers and environments shared by every benchmark row."""

    root: Path
    emulator: MdhEmulator
    key_file: Path
    moto_url: str
    keyring_env: dict[str, str] | None
    keyring_skip: str | None
    home_env: dict[str, str]
    iam: Any
    plain_minter: Any
    proxy: CountingProxy
    static_keys: dict[str, str] = field(default_factory=dict)

    @property
    def script(self) -> str:
        """The ``mdh-creds`` console script installed beside this interpreter."""
        return str(Path(sys.executable).with_name("mdh-creds"))

    @property
    def python(self) -> str:
        return sys.executable

    @property
    def config_file(self) -> Path:
        return self.root / "aws" / "config"

    @property
    def credentials_file(self) -> Path:
        return self.root / "aws" / "credentials"

    def cache_dir(self, name: str) -> Path:
        """A cache folder of its own for ``name`` (created by mdh-creds when needed)."""
        return self.root / "caches" / name

    def env(self, **extra: str) -> dict[str, str]:
        """The isolated base environment of every child."""
        env = scrubbed_environ()
        env.update(self.home_env)
        env.update(
            {
                "AWS_CONFIG_FILE": str(self.config_file),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        env.update(extra)
        return env

    def mdh_settings(self, cache: str, folder: Path | None = None) -> dict[str, str]:
        """The mdh-creds settings as MDH_* variables."""
        settings = {
            "MDH_SERVICE_ACCOUNT": ACCOUNT,
            "MDH_PRIVATE_KEY_FILE": str(self.key_file),
            "MDH_PROJECT_CODE": PROJECT_CODE,
            "MDH_TOKEN_URL": self.emulator.token_url,
            "MDH_EXCHANGE_URL": self.emulator.legacy_exchange_url,
            "MDH_CACHE": cache,
        }
        if folder is not None:
            settings["MDH_CACHE_DIR"] = str(folder)
        return settings

    def mdh_env(
        self,
        cache: str,
        folder: Path | None = None,
        table: str = TABLE,
        endpoint: str | None = None,
    ) -> dict[str, str]:
        """Environment of ``mdh-creds process`` for one cache backend; DynamoDB through the
        counting proxy (``endpoint``: a machine's own URL on it, ``proxy.url_for``)."""
        env = self.env(**self.mdh_settings(cache, folder))
        if cache == "dynamodb":
            url = endpoint or self.proxy.url
            env.update(FAKE_AWS, AWS_ENDPOINT_URL=url, MDH_DYNAMODB_TABLE=table)
        if cache == "keyring" and self.keyring_env:
            env.update(self.keyring_env)
        return env

    def secret_env(self, folder: Path, endpoint: str) -> dict[str, str]:
        """Environment of ``mdh-creds process`` for a file-cache profile whose account, key and
        project live in Secrets Manager (moto, through ``endpoint`` on the counting proxy)."""
        env = self.env(**self.mdh_settings("file", folder))
        for name in ("MDH_SERVICE_ACCOUNT", "MDH_PRIVATE_KEY_FILE", "MDH_PROJECT_CODE"):
            del env[name]
        env.update(FAKE_AWS, AWS_ENDPOINT_URL=endpoint, MDH_SECRET_ID=SECRET_ID)
        return env

    def aws_env(self) -> dict[str, str]:
        """Environment of the AWS CLI against moto (no MDH_*: the profile holds the settings)."""
        return self.env(
            AWS_ENDPOINT_URL=self.moto_url, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION
        )

    def mint_iam_users(self, enabled: bool) -> None:
        """Mint moto IAM keys (for the AWS CLI) or the emulator's cheap random keys."""
        minter = moto_iam_minter(self.moto_url, user_prefix=f"mdh-bench-{next(_MINT_ROUNDS)}")
        self.emulator.minter = minter if enabled else self.plain_minter

    def create_table(self, name: str) -> None:
        """A fresh cache table in moto."""
        from mdh_creds.cache.dynamodb import create_table

        create_table(boto_client("dynamodb", self.moto_url), name)

    def write_config(self) -> None:
        """Profile ``mdh`` (credential_process, file cache) and ``static`` (static keys)."""
        command = f"{self.script} process --profile {PROFILE}"
        settings = self.mdh_settings("file", self.cache_dir("file"))
        lines = [f"[profile {PROFILE}]", f"credential_process = {command}"]
        lines += [f"{name.lower()} = {value}" for name, value in settings.items()]
        lines += [f"region = {REGION}", "", f"[profile {STATIC_PROFILE}]", f"region = {REGION}"]
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        keys = self.static_keys
        self.credentials_file.write_text(
            f"[{STATIC_PROFILE}]\naws_access_key_id = {keys['AccessKeyId']}\n"
            f"aws_secret_access_key = {keys['SecretAccessKey']}\n",
            encoding="utf-8",
        )


def _static_keys(iam: Any) -> dict[str, str]:
    iam.create_user(UserName="static-baseline")
    key = iam.create_access_key(UserName="static-baseline")["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def _create_secret(moto_url: str, key_file: Path) -> None:
    """The account, key and project as a Secrets Manager secret (the ``mdh_secret_id`` row)."""
    import json

    document = {
        "service_account": ACCOUNT,
        "private_key": key_file.read_text(encoding="utf-8"),
        "project_code": PROJECT_CODE,
    }
    client = boto_client("secretsmanager", moto_url)
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps(document))


def _start_emulator(root: Path, stack: contextlib.ExitStack) -> tuple[MdhEmulator, Path]:
    emulator = MdhEmulator("127.0.0.1").start()
    stack.callback(emulator.stop)
    pair = generate_key_pair()
    emulator.register_account(ACCOUNT, pair, project_codes=[PROJECT_CODE])
    return emulator, pair.write_private_key(root / "service-account.pem")


def _secret_service(
    home: Path, home_env: dict[str, str], stack: contextlib.ExitStack
) -> tuple[dict[str, str] | None, str | None]:
    """``(environment reaching it, None)``, or ``(None, reason)`` when it cannot run here."""
    try:
        return start_secret_service(home, stack, {**scrubbed_environ(), **home_env}), None
    except (ServerError, OSError, subprocess.SubprocessError) as exc:
        return None, str(exc).splitlines()[0]


@contextlib.contextmanager
def open_world(keyring: bool = True) -> Iterator[World]:
    """Start everything; stop every process and remove the temp folder on exit."""
    with contextlib.ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="mdh-bench-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        home = root / "home"
        home_env = private_xdg(home)
        emulator, key_file = _start_emulator(root, stack)
        moto_url = start_moto(root, stack, scrubbed_environ())
        reach, skip = None, "disabled with --no-keyring"
        if keyring:
            reach, skip = _secret_service(home, home_env, stack)
        iam = boto_client("iam", moto_url)
        proxy = CountingProxy(moto_url).start()
        stack.callback(proxy.stop)
        world = World(
            root, emulator, key_file, moto_url, reach, skip, home_env, iam, emulator.minter, proxy
        )
        world.static_keys = _static_keys(iam)
        _create_secret(moto_url, key_file)
        world.write_config()
        world.create_table(TABLE)
        yield world
