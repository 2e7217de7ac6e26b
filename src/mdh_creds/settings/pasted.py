"""Recognise a private key pasted where another setting belongs (a path, a name, a URL), so that
the error names the setting without echoing the key (DESIGN 6).

Light: the fast path reads its settings through ``settings.values``, which loads this module only
when a value is checked.
"""

from __future__ import annotations

import re

# A key's DER body in base64 starts "MII"; a whole PEM base64-encoded starts "LS0tLS1CRUdJT".
_KEY_RUN = re.compile(r"(?:MII|LS0tLS1CRUdJT)[A-Za-z0-9+/]{60}")
_BASE64_BLOCK = re.compile(r"[A-Za-z0-9+/=\s\\]{512,}")


def looks_like_key(text: str) -> bool:
    """True for text that holds a private key (a PEM line, a key marker, a base64 key body):
    what a user pasted where a path or a name belongs. Such text is never echoed."""
    upper = text.upper()
    if "PRIVATE KEY" in upper:
        return True
    if "-----BEGIN" in text:  # a certificate is no secret: its own parser names it
        return "CERTIFICATE-----" not in upper
    return bool(_KEY_RUN.search(text) or _BASE64_BLOCK.fullmatch(text.strip()))
