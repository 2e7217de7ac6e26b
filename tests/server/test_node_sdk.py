"""The AWS SDK for JavaScript v3, its default credential chain in a Node child of
``exec --server``, calls STS (moto) as the identity the emulator minted.

The SDK is installed with npm into this test's own temp folder. Without Node, npm or the package
registry the test is skipped with the reason, unless ``MDH_CREDS_REQUIRE_NODE=1`` (CI), where
that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import World
from mdh_creds.testing.minters import moto_iam_minter
from test_end_to_end import ACCOUNT_ARN

# Node 18 (Debian's nodejs) runs the releases before the SDK required Node 20.
SDK_FOR_NODE_18 = "@aws-sdk/client-sts@~3.967.0"
SDK = "@aws-sdk/client-sts@3"
SCRIPT = """
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
(async () => {
  const { AWS_REGION: region, AWS_ENDPOINT_URL: endpoint } = process.env;
  const client = new STSClient({ region, endpoint });
  const identity = await client.send(new GetCallerIdentityCommand({}));
  const credentials = await client.config.credentials();
  console.log(JSON.stringify({ arn: identity.Arn, accessKeyId: credentials.accessKeyId }));
})().catch((error) => {
  console.error(`${error.name}: ${error.message}`);
  process.exit(1);
});
"""


def unavailable(reason: str) -> Any:
    if os.environ.get("MDH_CREDS_REQUIRE_NODE") == "1":
        pytest.fail(f"MDH_CREDS_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def node_major(node: str) -> int:
    done = subprocess.run(
        [node, "-p", "process.versions.node"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(done.stdout.strip().split(".")[0]) if done.returncode == 0 else 0


@pytest.fixture
def node_project(tmp_path: Path) -> tuple[str, Path]:
    """``(node, folder)``: the STS client installed in ``folder``, the script beside it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        unavailable("node and npm are not installed")
    assert node is not None and npm is not None
    package = SDK if node_major(node) >= 20 else SDK_FOR_NODE_18
    folder = tmp_path / "node-sdk"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "mdh-creds-node-test", "private": true}\n')
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", package],
            check=False,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        unavailable("npm install did not finish in 300 s (no package registry?)")
    if done.returncode != 0:
        unavailable(f"npm install {package} failed: {done.stderr.strip()[-300:]}")
    (folder / "sts.js").write_text(SCRIPT)
    return node, folder


def test_js_sdk_v3_default_chain_reads_the_endpoint(
    world: World, moto: Any, node_project: tuple[str, Path]
) -> None:
    node, folder = node_project
    world.emulator.minter = moto_iam_minter(moto.url)
    result = world.run(
        "exec", "--server", "--", node, str(folder / "sts.js"), AWS_ENDPOINT_URL=moto.url
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["arn"] == ACCOUNT_ARN.format("mdh-export-1")
    assert report["accessKeyId"].startswith("AKIA")
    assert world.emulator.count("exchange") == 1
