"""The registry of ``mdh-creds`` commands: name -> (module, one-line help). A module is imported
only when its command runs (or its own ``--help`` is asked for): the top-level help needs only
the lines kept here.

Each command module defines ``add_arguments(parser)`` and ``run(ctx) -> int`` (and may define
``EPILOG``). Command modules never import this registry nor each other.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# In the order ``--help`` lists them; ``process`` is also the default command.
COMMANDS: dict[str, tuple[str, str]] = {
    "process": ("process", "print credential_process JSON (the default command)"),
    "token": (
        "token",
        "print the access token (MDH REST API, or the client-secret API of the profile)",
    ),
    "export": ("export", "print credentials for a shell or a file"),
    "exec": ("exec", "run CMD (or your shell) with the credentials in its environment"),
    "serve": ("serve", "serve credentials to SDKs on a local endpoint until stopped"),
    "status": (
        "status",
        "show settings with their sources, the cache, its entries and what to fix",
    ),
    "list": (
        "list_profiles",
        "list the mdh profiles and the roles on them, with the state of their cached credentials",
    ),
    "clear": ("clear", "remove cached entries"),
    "configure": ("configure", "write or update the profile in the AWS config file"),
    "iam-policy": ("iam_policy", "print the least-privilege IAM policy for these settings"),
    "wrap": ("wrap", "serve any other credential_process through the cache (wrap -- CMD ...)"),
    "completion": ("completion", "print a completion script for bash, zsh or fish"),
}


def help_line(name: str) -> str:
    """The one-line help of command ``name`` (a key of ``COMMANDS``), with nothing imported."""
    return COMMANDS[name][1]


def load(name: str) -> ModuleType:
    """The module of command ``name`` (a key of ``COMMANDS``)."""
    return importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")
