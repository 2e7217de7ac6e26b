"""Recognise a private key pasted where another setting belongs (a path, a name, a URL), so that
the error names the setting without echoing the key (DESIGN 6).

Light: the fast path reads its settings through ``settings.values``, which loads this module only
when a value is checked.
"""

from __future__ import annotations

import re

# A key's DER body in base64 starts "MII"; a whole PEM base64-encoded starts "LS0tLS1CRUdJT".
# Plain strings, searched only when a cheap check allows a match: a cache hit checks its
# settings on every run and compiles neither.
_KEY_STARTS = ("MII", "LS0tLS1CRUdJT")
_KEY_RUN = r"(?:MII|LS0tLS1CRUdJT)[A-Za-z0-9+/]{60}"
_BLOCK_MIN = 512
_BASE64_BLOCK = r"[A-Za-z0-9+/=\s\\]{512,}"  # at least _BLOCK_MIN characters


def looks_like_key(text: str) -> bool:
    """True for text that holds a private key (a PEM line, a key marker, a base64 key body):
    what a user pasted where a path or a name belongs. Such text is never echoed."""
    upper = text.upper()
    if "PRIVATE KEY" in upper:
        return True
    if "-----BEGIN" in text:  # a certificate is no secret: its own parser names it
        return "CERTIFICATE-----" not in upper
    if any(start in text for start in _KEY_STARTS) and re.search(_KEY_RUN, text):
        return True
    stripped = text.strip()
    return len(stripped) >= _BLOCK_MIN and re.fullmatch(_BASE64_BLOCK, stripped) is not None
