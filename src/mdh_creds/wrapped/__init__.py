"""``mdh-creds wrap``: any other ``credential_process`` served through our cache.

``answer`` validates what the wrapped command prints (light: the cache-hit fast path prints its
document with it), ``keys`` finds the key that seals the entries, ``source`` runs the command as
the broker's credential ``Source``, ``hit`` is the cache hit with the fewest imports.
"""
