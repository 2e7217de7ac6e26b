"""The wraps the AWS config file runs: each profile whose ``credential_process`` is
``mdh-creds wrap [--name N] -- CMD ...``, by the names of the entries it keeps, so ``status``
can say whose an entry is without opening it (an entry's name is a digest of its identity:
nothing of the wrap is stored in clear).

The line is split as botocore splits it and read by the command line's own parser, so the
identity is the one ``wrap`` computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mdh_creds.cache.stored import KIND_CREDENTIALS, KIND_TOKEN, CacheKey
from mdh_creds.cli.launcher import is_own_command, split_words
from mdh_creds.wrapped.identity import wrap_identity

ParserFactory = Callable[[str | None], Any]
_NO_PARSE = ("-h", "--help", "--version")  # would print and exit: no wrap of a config file


def wrap_labels(
    profiles: Mapping[str, Mapping[str, str]], parser_factory: ParserFactory | None
) -> dict[str, str]:
    """Entry name -> ``wrap NAME`` (``wrap (profile P)`` for a wrap with no ``--name``), for
    every wrap the profiles run; the first profile wins when two run the same wrap."""
    labels: dict[str, str] = {}
    if parser_factory is None:
        return labels
    for profile, keys in profiles.items():
        found = read_wrap(keys.get("credential_process", ""), parser_factory)
        if found is None:
            continue
        name, argv = found
        label = f"wrap {name}" if name else f"wrap (profile {profile})"
        for kind in (KIND_CREDENTIALS, KIND_TOKEN):
            key = CacheKey.for_identity(wrap_identity(argv, name), kind)
            labels.setdefault(key.name, label)
    return labels


def read_wrap(line: str, parser_factory: ParserFactory) -> tuple[str | None, list[str]] | None:
    """``(name, CMD)`` of a ``credential_process`` that runs ``mdh-creds wrap``, else ``None``."""
    if not line or not is_own_command(line):
        return None
    try:
        words = split_words(line)
    except ValueError:
        return None
    words = words[3:] if words[1:3] == ["-m", "mdh_creds"] else words[1:]
    options = words[: words.index("--")] if "--" in words else words
    if "wrap" not in words or any(word in _NO_PARSE for word in options):
        return None
    try:
        args = parser_factory("wrap").parse_args(words)
    except (Exception, SystemExit):  # not a command line that runs: no wrap of ours
        return None
    if getattr(args, "command", None) != "wrap":
        return None
    argv = list(getattr(args, "argv", None) or [])
    argv = argv[1:] if argv[:1] == ["--"] else argv
    return (getattr(args, "name", None) or None, argv) if argv else None
