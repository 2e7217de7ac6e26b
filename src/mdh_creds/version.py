"""The package version and the user agent that names it on MDH and AWS calls (DESIGN 7)."""

__version__ = "0.1.0"
USER_AGENT = f"mdh-creds/{__version__}"
