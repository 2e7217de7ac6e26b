"""The parts of ``mdh_creds.broker`` (its public names are imported from there): the terms it
works by, the sealed store over a cache backend, the key's rotation, the entry listing."""
