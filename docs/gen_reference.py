"""MkDocs hook: the reference pages, generated from the code's own tables at every build.

``reference/commands.md`` comes from the command registry (``mdh_creds.cli.commands.COMMANDS``)
and each command's parser as ``mdh-creds COMMAND --help`` builds it; ``reference/settings.md``
from the settings table (``mdh_creds.settings.specs.SPECS``) and its descriptions. Neither page
is in the repository, so neither can drift from the code: a command or setting added there
appears here with no edit. ``tests/test_docs.py`` checks both pages and the strict build.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mdh_creds.cli import commands, main
from mdh_creds.settings.described import DESCRIPTIONS
from mdh_creds.settings.specs import SPECS, Spec

COMMANDS_PAGE = "reference/commands.md"
SETTINGS_PAGE = "reference/settings.md"
SHARED_GROUPS = ("common options", "setting flags")
GENERATED = "*Generated from the code when the site is built.*"


def _command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``mdh-creds NAME``, exactly as the command line builds it."""
    top = main.build_parser(name)
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            parser: argparse.ArgumentParser = action.choices[name]
            return parser
    raise LookupError(f"no parser for command {name}")


def _expanded_help(action: argparse.Action, prog: str) -> str:
    """The action's help with argparse's ``%(...)s`` fields filled, as ``--help`` prints it."""
    params: dict[str, Any] = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    params["prog"] = prog
    if action.choices is not None:
        params["choices"] = ", ".join(map(str, action.choices))
    return str(action.help or "") % params


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if isinstance(action.metavar, str):
        return action.metavar
    if action.choices is not None:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _positional(action: argparse.Action) -> str:
    return action.metavar if isinstance(action.metavar, str) else action.dest


def _option_lines(actions: list[argparse.Action], prog: str) -> list[str]:
    lines = []
    for action in actions:
        if action.help is argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        shown = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{_positional(action)}`"
        metavar = _metavar(action)
        if not action.option_strings:  # a positional: its name, then its choices if any
            metavar = metavar if action.choices is not None and metavar != shown[1:-1] else ""
        if metavar:
            shown += f" `{metavar}`"
        lines.append(f"- {shown}: {_md(_expanded_help(action, prog))}")
    return lines


def _md(text: str) -> str:
    """Plain help text made safe for Markdown (no emphasis or HTML read into it)."""
    for char in ("\\", "*", "_", "<", ">", "[", "]", "`"):
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def _groups(parser: argparse.ArgumentParser) -> list[tuple[str, list[argparse.Action]]]:
    return [
        (group.title or "", list(group._group_actions))
        for group in parser._action_groups
        if group._group_actions
    ]


def _command_section(name: str) -> list[str]:
    parser = _command_parser(name)
    usage = " ".join(parser.format_usage().removeprefix("usage:").split())
    out = [f"## {name}", "", _md(commands.help_line(name)), "", "```text", usage, "```", ""]
    for title, actions in _groups(parser):
        if title in SHARED_GROUPS:
            continue
        lines = _option_lines(actions, parser.prog)
        if lines:
            out += [f"{title.capitalize()}:", "", *lines, ""]
    if parser.epilog:
        out += ["```text", parser.epilog.rstrip(), "```", ""]
    return out


def _shared_section() -> list[str]:
    """The options every command takes (from the first command's parser: all share them)."""
    parser = _command_parser(next(iter(commands.COMMANDS)))
    out = ["## Options of every command", ""]
    for title, actions in _groups(parser):
        if title == "common options":
            out += _option_lines(actions, parser.prog)
    out += [
        "",
        "And one flag per setting that a profile may hold, each overriding its profile key and "
        "environment variable: see the [settings reference](settings.md).",
        "",
    ]
    return out


def commands_page() -> str:
    out = [
        "# Command reference",
        "",
        GENERATED + " `mdh-creds COMMAND --help` prints the same. With no command, "
        "`mdh-creds` runs `process`; `mdh-creds --version` prints the version.",
        "",
        "| command | does |",
        "|---|---|",
    ]
    out += [
        f"| [`{name}`](#{name}) | {_md(help)} |" for name, (_, help) in commands.COMMANDS.items()
    ]
    out.append("")
    for name in commands.COMMANDS:
        out += _command_section(name)
    out += _shared_section()
    return "\n".join(out)


def _code(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _setting_row(spec: Spec) -> str:
    key = f"`{spec.key}`" if spec.in_profile else "never in a file"
    flag = f"`{spec.flag}`" if spec.in_profile else ""
    env = _code(spec.env)
    if spec.aliases:
        env += "; below the profile: " + _code(spec.aliases)
    default = "" if spec.default is None else f"`{spec.default}`"
    what = _md(DESCRIPTIONS.get(spec.name, ""))
    return f"| `{spec.name}` | {what} | {key} | {flag} | {env} | {default} |"


def settings_page() -> str:
    out = [
        "# Settings reference",
        "",
        GENERATED + " Precedence, the older tools' variables and the key sources are explained "
        "in [Configuration](../configuration.md); `mdh-creds status` shows where each value "
        "came from.",
        "",
        "A setting comes from its flag, else its environment variable (the first one set, in "
        "the order listed), else a `.env` file given with `--env-file`, else the profile key, "
        "else the variables listed as *below the profile*, else its default.",
        "",
        "| setting | what | profile key | flag | environment | default |",
        "|---|---|---|---|---|---|",
    ]
    out += [_setting_row(spec) for spec in SPECS]
    out.append("")
    return "\n".join(out)


PAGES = {COMMANDS_PAGE: commands_page, SETTINGS_PAGE: settings_page}
# Files outside docs/ that a page shows, published beside the pages; their links are rewritten.
ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = {"../benchmarks/chart.png": "benchmarks/chart.png"}


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages, and the files outside docs/ that pages show (MkDocs 1.6 hook)."""
    from mkdocs.structure.files import File

    for path, render in PAGES.items():
        files.append(File.generated(config, path, content=render()))
    for link, path in OUTSIDE.items():
        source = ROOT / "docs" / link
        if source.is_file():
            files.append(File.generated(config, path, abs_src_path=str(source)))
    return files


def on_page_markdown(markdown: str, **_: Any) -> str:
    """A link that reaches outside docs/ (right when the page is read in the repository) points
    at the published copy instead."""
    for link, path in OUTSIDE.items():
        markdown = markdown.replace(f"]({link})", f"]({path})")
    return markdown
