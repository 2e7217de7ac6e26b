"""The text of the bash, zsh and fish completion scripts (``cli.completion`` finds what goes
in them). Each script finds the command among the words typed (skipping the value of a flag
that takes one), completes the value of the flag just typed (profiles, choices, files), else the
commands or the flags of the command."""

from __future__ import annotations

from collections.abc import Iterable

from mdh_creds.cli import completion
from mdh_creds.cli.completion import Command, Factory, Option, words


def script(shell: str, build: Factory) -> str:
    """The completion script for ``shell`` (one of ``completion.SHELLS``)."""
    render = {"bash": bash, "zsh": zsh, "fish": fish}[shell]
    found = completion.commands(build)
    return render(found, completion.root_options(build), completion.profiles_command())


def _valued(options: Iterable[Option]) -> dict[str, Option]:
    """Every flag that takes a value -> its option (the same flag means the same in every
    command; choices are merged)."""
    found: dict[str, Option] = {}
    for option in options:
        if option.kind == "flag":
            continue
        for name in option.names:
            old = found.get(name)
            merged = tuple(dict.fromkeys((old.choices if old else ()) + option.choices))
            found[name] = Option(option.longs, option.shorts, option.help, option.kind, merged)
    return found


def _all_options(commands: list[Command], root: tuple[Option, ...]) -> list[Option]:
    return [*root, *(option for command in commands for option in command.options)]


def _pattern(names: Iterable[str]) -> str:
    return words(sorted(set(names))).replace(" ", "|")


def _flags(options: Iterable[Option]) -> list[str]:
    return list(dict.fromkeys(name for option in options for name in option.names))


def bash(commands: list[Command], root: tuple[Option, ...], profiles: str) -> str:
    valued = _valued(_all_options(commands, root))
    by_kind = {kind: [n for n, o in valued.items() if o.kind == kind] for kind in ("path", "value")}
    lines = [
        '# bash completion for mdh-creds. In ~/.bashrc: eval "$(mdh-creds completion bash)"',
        "_mdh_creds() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" command="" i',
        '    [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        '            --) if [ "$command" = exec ]; then  # the command exec runs, then its words',
        '                    if [ "$i" -eq $((COMP_CWORD - 1)) ]; then COMPREPLY=($(compgen -c -- '
        '"$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi',
        "                    return 0",
        "                fi ;;",
        f"            {_pattern(valued)}) i=$((i + 1)) ;;",
        f'            {_pattern(c.name for c in commands)}) [ -z "$command" ] && '
        'command="${COMP_WORDS[i]}" ;;',
        "        esac",
        "    done",
        '    case "$prev" in',
    ]
    for name, option in valued.items():
        if option.kind == "profile":
            lines.append(
                f'        {name}) COMPREPLY=($(compgen -W "$({profiles} 2>/dev/null)" '
                '-- "$cur")); return 0 ;;'
            )
        elif option.kind == "choice":
            lines.append(
                f'        {name}) COMPREPLY=($(compgen -W "{words(option.choices)}" -- "$cur")); '
                "return 0 ;;"
            )
    if by_kind["path"]:
        lines.append(
            f'        {_pattern(by_kind["path"])}) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;'
        )
    if by_kind["value"]:
        lines.append(f"        {_pattern(by_kind['value'])}) COMPREPLY=(); return 0 ;;")
    lines += ["    esac", '    case "$command" in']
    top = [c.name for c in commands] + _flags(root)
    lines.append(f'        "") COMPREPLY=($(compgen -W "{words(top)}" -- "$cur")) ;;')
    for command in commands:
        offered = [*command.words, *_flags(command.options)]
        lines.append(
            f'        {command.name}) COMPREPLY=($(compgen -W "{words(offered)}" -- "$cur")) ;;'
        )
    lines += ["    esac", "    return 0", "}", "complete -F _mdh_creds mdh-creds", ""]
    return "\n".join(lines)


def _zsh_item(name: str, text: str) -> str:
    """One ``name:description`` entry of a ``_describe`` array, single-quoted."""
    described = f"{name}:{text.replace(':', chr(92) + ':')}" if text else name
    return "'" + described.replace("'", "'\\''") + "'"


def zsh(commands: list[Command], root: tuple[Option, ...], profiles: str) -> str:
    valued = _valued(_all_options(commands, root))
    lines = [
        "#compdef mdh-creds",
        "# zsh completion for mdh-creds. In ~/.zshrc, after compinit:",
        '#   eval "$(mdh-creds completion zsh)"',
        "_mdh_creds() {",
        '  local prev="${words[CURRENT-1]}" command="" i',
        "  local -a items",
        "  for ((i = 2; i < CURRENT; i++)); do",
        '    case "${words[i]}" in',
        '      --) if [[ "$command" == exec ]]; then  # the command exec runs: as if typed alone',
        "            shift $i words; ((CURRENT -= i)); _normal; return",
        "          fi ;;",
        f"      {_pattern(valued)}) ((i++)) ;;",
        f'      {_pattern(c.name for c in commands)}) [[ -z "$command" ]] && '
        'command="${words[i]}" ;;',
        "    esac",
        "  done",
        '  case "$prev" in',
    ]
    paths = [n for n, o in valued.items() if o.kind == "path"]
    values = [n for n, o in valued.items() if o.kind == "value"]
    for name, option in valued.items():
        if option.kind == "profile":
            lines.append(f'    {name}) compadd -- ${{(f)"$({profiles} 2>/dev/null)"}}; return ;;')
        elif option.kind == "choice":
            lines.append(f"    {name}) compadd -- {words(option.choices)}; return ;;")
    if paths:
        lines.append(f"    {_pattern(paths)}) _files; return ;;")
    if values:
        lines.append(f"    {_pattern(values)}) _message 'a value'; return ;;")
    lines += ["  esac", '  case "$command" in', '    "")']
    entries = [_zsh_item(c.name, c.help) for c in commands]
    entries += [_zsh_item(o.longs[0] if o.longs else o.shorts[0], o.help) for o in root]
    lines.append(f"      items=({' '.join(entries)}) ;;")
    for command in commands:
        entries = [_zsh_item(word, "") for word in command.words]
        entries += [_zsh_item(name, o.help) for o in command.options for name in o.longs]
        lines.append(f"    {command.name}) items=({' '.join(entries)}) ;;")
    lines += [
        "  esac",
        "  _describe -t mdh-creds 'mdh-creds' items",
        "}",
        "compdef _mdh_creds mdh-creds",
        "",
    ]
    return "\n".join(lines)


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(option: Option, condition: str, profiles: str) -> str:
    parts = ["complete -c mdh-creds"]
    if condition:
        parts.append(f"-n {_fish_quote(condition)}")
    parts += [f"-l {name[2:]}" for name in option.longs]
    parts += [f"-s {name[1:]}" for name in option.shorts if len(name) == 2]
    if option.kind == "profile":
        parts.append(f"-x -a {_fish_quote(f'({profiles} 2>/dev/null)')}")
    elif option.kind == "choice":
        parts.append(f"-x -a {_fish_quote(words(option.choices))}")
    elif option.kind == "path":
        parts.append("-r -F")
    elif option.kind == "value":
        parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


# After ``exec ... --``: the command exec runs, then that command's own words (fish completes
# the rest of the line as if it were typed alone).
_FISH_EXEC_RUN = [
    "function __mdh_creds_exec_run",
    "    set -l tokens (commandline -opc)",
    "    set -l at (contains -i -- -- $tokens); and contains -- exec $tokens[1..$at]",
    "end",
    "function __mdh_creds_exec_words",
    "    set -l tokens (commandline -opc)",
    "    set -l at (contains -i -- -- $tokens)",
    "    set -l run (string escape -- $tokens[(math $at + 1)..-1]) (commandline -ct)",
    "    complete -C (string join ' ' -- $run)",
    "end",
    "complete -c mdh-creds -n __mdh_creds_exec_run -x -a '(__mdh_creds_exec_words)'",
]


def fish(commands: list[Command], root: tuple[Option, ...], profiles: str) -> str:
    every = [set(_flags(c.options)) for c in commands]
    common = set.intersection(*every) if every else set()
    names = words([c.name for c in commands])
    lines = [
        "# fish completion for mdh-creds: mdh-creds completion fish | source",
        "# (or save it as ~/.config/fish/completions/mdh-creds.fish)",
        "complete -c mdh-creds -e",
        "complete -c mdh-creds -f",
    ]
    lines += _FISH_EXEC_RUN
    no_command = f"not __fish_seen_subcommand_from {names}"
    for command in commands:
        lines.append(
            f"complete -c mdh-creds -n {_fish_quote(no_command)} -a {command.name} "
            f"-d {_fish_quote(command.help)}"
        )
    seen: set[str] = set()
    for option in root:  # before a command, and the options every command shares
        lines.append(_fish_option(option, "", profiles))
        seen.update(option.names)
    for command in commands:
        condition = f"__fish_seen_subcommand_from {command.name}"
        if command.words:
            lines.append(
                f"complete -c mdh-creds -n {_fish_quote(condition)} -a "
                f"{_fish_quote(words(command.words))}"
            )
        for option in command.options:
            if set(option.names) <= seen:
                continue
            shared = set(option.names) <= common
            lines.append(_fish_option(option, "" if shared else condition, profiles))
            if shared:
                seen.update(option.names)
    return "\n".join(lines) + "\n"
