"""Test helpers for mdh-creds: an MDH emulator, service account keys and pytest fixtures.

Names are imported lazily so that loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdh_creds.testing._models import Fault, MintRequest, RecordedRequest, sequence_minter
    from mdh_creds.testing.emulator import MdhEmulator
    from mdh_creds.testing.keys import KeyPair, generate_key_pair

__all__ = [
    "Fault",
    "KeyPair",
    "MdhEmulator",
    "MintRequest",
    "RecordedRequest",
    "generate_key_pair",
    "sequence_minter",
]

_HOMES = {
    "Fault": "mdh_creds.testing._models",
    "MintRequest": "mdh_creds.testing._models",
    "RecordedRequest": "mdh_creds.testing._models",
    "sequence_minter": "mdh_creds.testing._models",
    "MdhEmulator": "mdh_creds.testing.emulator",
    "KeyPair": "mdh_creds.testing.keys",
    "generate_key_pair": "mdh_creds.testing.keys",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
