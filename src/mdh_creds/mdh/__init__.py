"""The MDH side: the private key (``keys``, ``pem``), the account made whole (``account``), the two
HTTP calls (``client``) with their retries (``retry``) and answer checks (``answers``), and the
exchange the broker calls (``exchange``). Empty on purpose: nothing heavy loads with the package."""
