"""The exception tree of mdh-creds.

::

    MdhCredsError                       .retryable: bool, .exit_code: int
    ├── ConfigError (ValueError)        a setting missing or invalid: names it and its source
    ├── PrivateKeyError                 the private key unreadable or malformed
    ├── ExchangeError
    │   ├── ExchangeUnavailable         network, timeout, 5xx, 429 after retries   (retryable)
    │   └── ExchangeRejected            4xx, malformed answer; .status, .error
    └── CacheError
        ├── CacheUnavailable            the backend cannot run here: the factory falls back
        └── LockTimeout

A cache miss is ``None``, never an exception. Messages never carry a secret.
"""

from __future__ import annotations


class MdhCredsError(Exception):
    """Base of every error mdh-creds raises on purpose."""

    retryable: bool = False
    exit_code: int = 1


class ConfigError(MdhCredsError, ValueError):
    """A setting is missing or invalid; the message names it and where it came from."""

    exit_code = 3


class PrivateKeyError(MdhCredsError):
    """The service account's private key cannot be read or parsed."""

    exit_code = 3


class ExchangeError(MdhCredsError):
    """The MDH exchange failed."""

    exit_code = 4


class ExchangeUnavailable(ExchangeError):
    """MDH could not be reached, timed out, or answered 5xx/429 after every retry."""

    retryable = True
    exit_code = 5

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeRejected(ExchangeError):
    """MDH refused the request (4xx) or answered something that is not a valid answer."""

    exit_code = 4

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.error = error


class CacheError(MdhCredsError):
    """A cache backend failed."""


class CacheUnavailable(CacheError):
    """The cache backend cannot run here (no keyring, table unreachable, folder unwritable)."""


class LockTimeout(CacheError):
    """The single-flight lock was not acquired in time."""

    retryable = True
    exit_code = 5
