"""The ``mdh-creds`` console script: the cache-hit fast path first, else the full command."""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Serve a fresh cached entry with the fewest imports; anything else goes to ``cli.main``."""
    if sys.argv[1:2] == ["wrap"]:
        from mdh_creds.cli.wrap_fastpath import try_serve
    else:
        from mdh_creds.cli.fastpath import try_serve

    code = try_serve(sys.argv[1:], os.environ, sys.stdout, sys.stderr)
    if code is not None:
        return code
    from mdh_creds.cli.main import main as full_command

    return full_command(die_with_child=True)
