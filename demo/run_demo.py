"""``make demo``: the whole flow on this machine, with no MDH account and no AWS account.

Starts the bundled MDH emulator and a moto server (both on 127.0.0.1), writes a throw-away AWS
config profile that uses ``mdh-creds process`` as its ``credential_process``, and shows the AWS
CLI and boto3 calling ``sts get-caller-identity`` as the identity the emulator minted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from mdh_creds.testing import MdhEmulator, generate_key_pair
from mdh_creds.testing.minters import moto_iam_minter
from mdh_creds.testing.servers import start_moto

ACCOUNT = "MyDataHelps.DEMO.app"
PROJECT = "RK.DEMO.Project"
BIN = Path(sys.executable).parent


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def write_profile(folder: Path, emulator: MdhEmulator, key_file: Path) -> Path:
    config = folder / "config"
    config.write_text(
        "[profile mdh-demo]\n"
        f"credential_process = {sys.executable} -m mdh_creds process --profile mdh-demo\n"
        f"mdh_service_account = {ACCOUNT}\n"
        f"mdh_private_key_file = {key_file}\n"
        f"mdh_project_code = {PROJECT}\n"
        f"mdh_token_url = {emulator.token_url}\n"
        f"mdh_exchange_url = {emulator.legacy_exchange_url}\n"
        "mdh_cache = file\n"
        f"mdh_cache_dir = {folder / 'cache'}\n"
        "region = us-east-1\n"
    )
    (folder / "credentials").write_text("")
    return config


def demo_environment(folder: Path, config: Path, moto_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MDH_", "RKS_"))}
    env.update(
        HOME=str(folder),
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(folder / "credentials"),
        AWS_ENDPOINT_URL=moto_url,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def run(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv[:3])}...: {done.stderr.strip()}")
    return done.stdout


def masked(document: str) -> str:
    data = json.loads(document)
    for name in ("SecretAccessKey", "SessionToken"):
        data[name] = data[name][:4] + "…(hidden)"
    return json.dumps(data)


def show_flow(env: dict[str, str], emulator: MdhEmulator) -> None:
    step("mdh-creds process --profile mdh-demo  (what credential_process prints; secrets hidden)")
    print(masked(run(env, sys.executable, "-m", "mdh_creds", "process", "--profile", "mdh-demo")))
    step("aws sts get-caller-identity --profile mdh-demo  (AWS CLI v1 through credential_process)")
    aws = shutil.which("aws", path=str(BIN)) or "aws"
    print(run(env, aws, "sts", "get-caller-identity", "--profile", "mdh-demo").strip())
    step("boto3.Session(profile_name='mdh-demo').client('sts').get_caller_identity()")
    os.environ.update(env)
    import boto3

    identity = boto3.Session(profile_name="mdh-demo").client("sts").get_caller_identity()
    print(json.dumps({k: identity[k] for k in ("UserId", "Account", "Arn")}))
    step("mdh-creds status --profile mdh-demo")
    print(run(env, sys.executable, "-m", "mdh_creds", "status", "--profile", "mdh-demo").rstrip())
    exchanges = emulator.count("exchange")
    step(f"MDH exchanges performed: {exchanges} (every later call was a cache hit)")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mdh-creds-demo-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        moto_url = start_moto(folder, stack)
        with MdhEmulator() as emulator:
            keys = generate_key_pair()
            emulator.register_account(ACCOUNT, keys, project_codes=[PROJECT])
            emulator.minter = moto_iam_minter(moto_url, user_prefix="mdh-demo-export")
            key_file = keys.write_private_key(folder / "service-account.pem")
            config = write_profile(folder, emulator, key_file)
            step(f"MDH emulator at {emulator.base_url}, moto at {moto_url}")
            print(config.read_text().rstrip())
            show_flow(demo_environment(folder, config, moto_url), emulator)
    print("\nDemo finished: the identity above is the one the emulator minted.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
