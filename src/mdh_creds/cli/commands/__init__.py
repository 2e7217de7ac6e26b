"""The registry of ``mdh-creds`` commands: name -> module, imported when the parser is built.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(ctx) -> int``.
Command modules never import this registry nor each other.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# In the order ``--help`` lists them; ``process`` is also the default command.
MODULES = {
    "process": "process",
    "token": "token",
    "export": "export",
    "exec": "exec",
    "serve": "serve",
    "status": "status",
    "clear": "clear",
    "configure": "configure",
    "iam-policy": "iam_policy",
}


def load(name: str) -> ModuleType:
    """The module of command ``name`` (a key of ``MODULES``)."""
    return importlib.import_module(f"{__name__}.{MODULES[name]}")
