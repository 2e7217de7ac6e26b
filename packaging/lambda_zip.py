"""Build AWS Lambda deployment zips of mdh-creds: ``OUT_DIR/mdh-creds-lambda-ARCH.zip``.

Each zip holds the wheel ``make dist`` built and every dependency as a manylinux2014 wheel for
Lambda's Python and architecture (``pip install --platform ... --only-binary=:all:``, from pip's
configured index), so the native ``cryptography`` matches the function's machine, not this one.
The handler is ``mdh_creds.aws_lambda.handler``.

boto3 and botocore are packed too, although Lambda's runtime has them: the runtime's copies lag
behind and change under a deployed function, and a pinned pair is what the tests ran against.

Left out: ``bin/`` (console scripts whose first line names this machine's Python), bytecode
(pip runs with ``--no-compile``; Lambda compiles into memory), and ``direct_url.json`` (it
records where the wheel lay on this machine). The zip is deterministic for the same inputs:
entries sorted, one timestamp (``SOURCE_DATE_EPOCH``, else 1980-01-01), fixed permissions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
DROPPED_DIRS = {"bin", "__pycache__"}
DROPPED_FILES = {"direct_url.json"}
PIP_TIMEOUT = 900


def install(wheel: Path, arch: str, python_version: str, target: Path) -> None:
    """The wheel and its dependencies for Lambda's platform into ``target``."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--no-warn-conflicts",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--platform",
        PLATFORMS[arch],
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        str(wheel),
    ]
    subprocess.run(command, check=True, timeout=PIP_TIMEOUT)


def members(root: Path) -> list[Path]:
    """The files to pack, sorted, without what Lambda does not need (see the module's doc)."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if set(relative.parts) & DROPPED_DIRS or path.suffix in (".pyc", ".pyo"):
            continue
        if path.is_file() and path.name not in DROPPED_FILES:
            found.append(relative)
    return sorted(found, key=lambda p: p.as_posix())


def timestamp() -> tuple[int, int, int, int, int, int]:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01, zip's first day
    return time.gmtime(max(epoch, 315532800))[:6]


def write_zip(root: Path, destination: Path) -> int:
    """Pack ``root`` into ``destination`` (atomically); the number of entries."""
    stamp = timestamp()
    partial = destination.with_name(destination.name + ".partial")
    entries = members(root)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in entries:
            source = root / relative
            info = zipfile.ZipInfo(relative.as_posix(), date_time=stamp)
            mode = 0o755 if os.access(source, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    partial.replace(destination)
    return len(entries)


def build(wheel: Path, arch: str, python_version: str, out_dir: Path) -> Path:
    destination = out_dir / f"mdh-creds-lambda-{arch}.zip"
    with tempfile.TemporaryDirectory(prefix="mdh-creds-lambda-") as scratch:
        target = Path(scratch) / "package"
        install(wheel, arch, python_version, target)
        count = write_zip(target, destination)
    size = destination.stat().st_size / 1e6
    print(f"{destination}: {count} files, {size:.1f} MB (Python {python_version}, {arch})")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="+", choices=sorted(PLATFORMS), metavar="ARCH")
    parser.add_argument("--python-version", default="3.12", help="Lambda's Python (3.12)")
    parser.add_argument("--wheel", nargs="+", required=True, help="the mdh_creds wheel")
    parser.add_argument("--out-dir", type=Path, default=Path("dist"))
    args = parser.parse_args(argv)
    if len(args.wheel) != 1 or not Path(args.wheel[0]).is_file():
        parser.error(f"--wheel must name one built wheel (run make dist), not {args.wheel}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for arch in args.archs:
        build(Path(args.wheel[0]), arch, args.python_version, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
