"""``python -m mdh_creds``: the command line."""

from mdh_creds.cli import main

raise SystemExit(main())
