"""One line per setting of ``specs.SPECS`` saying what it is, for ``COMMAND --help`` and the
settings reference page (generated from ``SPECS`` and this table when the docs are built). A
setting missing here is still listed there, with its key, variables and flag."""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "service_account": "the MDH service account's name (required for a service account)",
    "private_key": "the private key's PEM text (never in a file: the environment or a secret)",
    "private_key_file": "the private key's PEM file (PKCS#1 or PKCS#8, may be encrypted)",
    "private_key_passphrase": "the passphrase of an encrypted key (never in a file; "
    "configure --store-passphrase keeps it in the OS keyring)",
    "private_key_keyring": "the name of the private key kept in the OS keyring",
    "kms_key_id": "an AWS KMS key that signs (key id, alias/NAME or ARN of an RSA SIGN_VERIFY key)",
    "secret_id": "a Secrets Manager secret holding the service account (or an API client)",
    "client_id": "the API client's id (consumer key), for the client-secret grant",
    "client_secret": "the API client's secret (consumer secret; never in a file)",
    "client_auth": "how the client secret is sent: basic (HTTP Basic) or post (in the form)",
    "project_code": "the project code (the legacy explorer endpoint)",
    "project_id": "the project id (the newer explorer endpoint)",
    "token_url": "the MDH token endpoint",
    "scope": "the scope asked for with the token",
    "exchange_url": "the explorer URL (may hold {project_id}); by default chosen by project "
    "id, else project code",
    "retries": "retries of a failed MDH call",
    "retry_interval_ms": "the base of the exponential backoff between retries, ms (with jitter, "
    "each wait at most 30 s)",
    "timeout": "each HTTP attempt's whole time, s (connect, headers, body)",
    "cache": "where entries are kept: auto (the OS keyring where one answers, else file), "
    "keyring, file, dynamodb, memory or none",
    "cache_dir": "the cache folder (file cache, locks, the DynamoDB tier's local copies); "
    "by default $XDG_CACHE_HOME/mdh-creds",
    "dynamodb_table": "the DynamoDB table a fleet shares (mdh_cache = dynamodb)",
    "refresh_window": "refresh an entry with less than this left, s",
    "aws_profile": "the AWS profile for mdh-creds' own DynamoDB, Secrets Manager and KMS calls "
    "(by default the default chain, never the mdh profile itself)",
    "ca_bundle": "a CA bundle for the MDH calls (TLS interception); by default the system's",
}
