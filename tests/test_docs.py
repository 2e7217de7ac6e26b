"""The documentation site: the generated reference pages list every command with every option
and every setting with its key, variables and flag, and ``mkdocs build --strict`` passes (a
broken link or anchor fails it)."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mdh_creds.cli import commands
from mdh_creds.settings.specs import SPECS

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs/gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sections(page: str) -> dict[str, str]:
    """``## NAME`` heading -> the text up to the next such heading."""
    found = {}
    for chunk in page.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        found[heading.strip()] = body
    return found


def _own_options(name: str) -> list[str]:
    """What the command's module adds, read from a parser of its own (not the generator's)."""
    parser = argparse.ArgumentParser(add_help=False)
    commands.load(name).add_arguments(parser)
    shown = []
    for action in parser._actions:
        if action.help is argparse.SUPPRESS:
            continue
        shown += action.option_strings or [str(action.metavar or action.dest)]
    return shown


def test_command_reference_lists_every_command_and_option() -> None:
    page = _generator().commands_page()
    sections = _sections(page)
    for name, (_, help_line) in commands.COMMANDS.items():
        assert name in sections, f"command {name} missing from the reference"
        body = sections[name]
        assert f"mdh-creds {name}" in body
        for option in _own_options(name):
            assert f"`{option}`" in body, f"{name}: option {option} missing"
        assert f"[`{name}`](#{name})" in page
    common = sections["Options of every command"]
    for flag in ("--profile", "--env-file", "--debug", "--no-cache", "--force-refresh"):
        assert f"`{flag}`" in common


def test_settings_reference_lists_every_setting() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in _generator().settings_page().splitlines()
        if line.startswith("| `")
    }
    assert set(rows) == {spec.name for spec in SPECS}
    for spec in SPECS:
        row = rows[spec.name]
        for variable in (*spec.env, *spec.aliases):
            assert f"`{variable}`" in row, f"{spec.name}: {variable} missing"
        if spec.in_profile:
            assert f"`{spec.key}`" in row and f"`{spec.flag}`" in row
        else:
            assert "never in a file" in row and spec.flag not in row
        if spec.default is not None:
            assert f"`{spec.default}`" in row


def test_no_description_names_a_setting_that_is_gone() -> None:
    """A setting without a description is still listed (with its key, variables and flag), so a
    new one never breaks the build; a description of a removed or renamed one is an error."""
    from mdh_creds.settings.described import DESCRIPTIONS

    assert set(DESCRIPTIONS) <= {spec.name for spec in SPECS}


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    built = (site / "reference/commands/index.html").read_text(encoding="utf-8")
    for name in commands.COMMANDS:
        assert f'id="{name}"' in built
    settings = (site / "reference/settings/index.html").read_text(encoding="utf-8")
    assert all(spec.env[0] in settings for spec in SPECS)
    assert not list(site.rglob("*.py")), "the hook was published as a page's file"


def test_readme_is_a_front_door_whose_links_resolve() -> None:
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links into docs/"
    for target in targets:
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to a missing {target}"
