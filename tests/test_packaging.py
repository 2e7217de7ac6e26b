"""``make dist`` and ``make lambda-zip`` as a release would run them: the sdist and wheel pass
``twine check`` and hold what they should; the Lambda zip, built for this machine's Python and
architecture, imports the handler in an interpreter that sees nothing but the unpacked zip.

Both run make with ``-o .venv/.installed-release``: the test extras already hold build and twine,
and reinstalling the package under the other tests' feet must not happen."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
ARCHS = {"x86_64": "x86_64", "aarch64": "arm64"}
DEV_TOOLS = {"pip", "setuptools", "wheel", "pytest", "ruff", "mypy", "build", "twine", "mkdocs"}
DEV_TOOLS |= {"moto", "awscli", "hypothesis"}


def _make(target: str, out: Path, *variables: str, timeout: float) -> None:
    """Run make in the checkout, one build at a time: the sdist step builds in the checkout
    itself (``mdh_creds-VERSION/``, ``src/mdh_creds.egg-info``), so two at once collide."""
    with FileLock(str(ROOT / ".venv" / ".make-dist.lock"), timeout=timeout):
        _run_make(target, out, variables, timeout)


def _run_make(target: str, out: Path, variables: tuple[str, ...], timeout: float) -> None:
    done = subprocess.run(
        [
            "make",
            "-C",
            str(ROOT),
            "-o",
            ".venv/.installed-release",
            target,
            f"DIST_DIR={out}",
            *variables,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(autouse=True)
def _tools() -> None:
    if Path(sys.prefix).resolve() != ROOT / ".venv":
        pytest.skip("runs make, which uses the checkout's own .venv")
    if not (ROOT / ".venv/bin/twine").exists():
        pytest.skip("build and twine are not installed (pip install -e '.[dev]')")


@pytest.mark.slow
def test_make_dist_builds_a_checked_sdist_and_wheel(tmp_path: Path) -> None:
    _make("dist", tmp_path, timeout=300)
    (sdist,) = tmp_path.glob("mdh_creds-*.tar.gz")
    (wheel,) = tmp_path.glob("mdh_creds-*-py3-none-any.whl")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    for wanted in ("LICENSE.txt", "README.md", "pyproject.toml", "src/mdh_creds/py.typed"):
        assert wanted in names
    assert not [n for n in names if n.startswith("tests/")], "the sdist holds tests"
    assert not [n for n in names if n.endswith((".pem", ".key", ".env"))]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "mdh_creds/py.typed" in names and "mdh_creds/aws_lambda.py" in names
    assert any(n.endswith("/licenses/LICENSE.txt") for n in names)


IMPORT_THE_HANDLER = """
import sys
folder = sys.argv[1]
sys.path[:] = [folder] + [p for p in sys.path if "-packages" not in p]
import mdh_creds.aws_lambda as entry
assert callable(entry.handler)
import boto3, botocore.session, cryptography, jwt, requests
for module in (entry, boto3, cryptography, jwt, requests):
    assert module.__file__.startswith(folder), module.__file__
from cryptography.hazmat.primitives.asymmetric import rsa
rsa.generate_private_key(public_exponent=65537, key_size=2048)   # the native library loads
botocore.session.get_session().create_client(
    "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
print("handler", entry.handler.__module__ + "." + entry.handler.__name__)
"""


@pytest.mark.slow
def test_lambda_zip_imports_the_handler_from_nothing_but_the_zip(tmp_path: Path) -> None:
    arch = ARCHS.get(platform.machine())
    if arch is None:
        pytest.skip(f"no Lambda architecture matches {platform.machine()}")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    _make("lambda-zip", tmp_path, f"LAMBDA_PYTHON={version}", f"LAMBDA_ARCHS={arch}", timeout=600)
    zipped = tmp_path / f"mdh-creds-lambda-{arch}.zip"
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        archive.extractall(tmp_path / "unpacked")
    assert not [n for n in names if "__pycache__/" in n or n.endswith(".pyc")]
    top = {name.split("/")[0] for name in names}
    assert not {"tests", "bin"} & top
    assert not [n for n in names if n.endswith("direct_url.json")], "a path of this machine"
    dist_infos = {n.split("-")[0].lower() for n in top if n.endswith(".dist-info")}
    assert "mdh_creds" in dist_infos and not dist_infos & DEV_TOOLS
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_THE_HANDLER, str(tmp_path / "unpacked")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "handler mdh_creds.aws_lambda.handler"
