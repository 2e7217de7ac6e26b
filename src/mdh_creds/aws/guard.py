"""Recursion guards: the plugin's own AWS clients must never resolve credentials through itself.

In process, a context variable marks code running inside mdh-creds (the provider then declines
to act for sessions created there). Across processes, ``GUARD_VARIABLE`` carries the pid of the
``mdh-creds process`` run, so a ``credential_process`` started beneath it refuses to run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from mdh_creds.settings.specs import GUARD_VARIABLE

__all__ = ["GUARD_VARIABLE", "guard_children", "inside", "is_inside", "refuse_nesting"]

_INSIDE = ContextVar("mdh_creds_inside", default=False)


def is_inside() -> bool:
    """True while mdh-creds itself is building credentials or its own AWS clients."""
    return _INSIDE.get()


@contextmanager
def inside() -> Iterator[None]:
    """Mark the block as mdh-creds' own work."""
    marker = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(marker)


@contextmanager
def guard_children() -> Iterator[None]:
    """While the block runs, a ``credential_process`` it starts sees this pid and refuses."""
    import os

    previous = os.environ.get(GUARD_VARIABLE)
    os.environ[GUARD_VARIABLE] = str(os.getpid())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(GUARD_VARIABLE, None)
        else:
            os.environ[GUARD_VARIABLE] = previous


def refuse_nesting(environ: Mapping[str, str], message: str) -> None:
    """Raise ``ConfigError(message)`` when another mdh-creds process started this one."""
    import os

    from mdh_creds.errors import ConfigError

    value = environ.get(GUARD_VARIABLE)
    if value and value != str(os.getpid()):
        raise ConfigError(message)
