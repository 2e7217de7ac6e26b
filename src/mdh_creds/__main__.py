"""``python -m mdh_creds``: the command line (cache-hit fast path first)."""

from mdh_creds.cli.console import main

raise SystemExit(main())
