"""The least a cold exchange can do, as a baseline: sign an RS256 assertion with PyJWT, POST it to
the token endpoint, POST the token to the exchange endpoint, print credential_process JSON.

Reads MDH_SERVICE_ACCOUNT, MDH_PRIVATE_KEY_FILE, MDH_PROJECT_CODE, MDH_TOKEN_URL and
MDH_EXCHANGE_URL. No validation, no retries, no cache: only the work every exchange must do.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import jwt
import requests

TIMEOUT = 10.0


def assertion(account: str, key_pem: str, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": account,
        "sub": account,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key_pem, algorithm="RS256", headers={"typ": "JWT"})


def main() -> None:
    account = os.environ["MDH_SERVICE_ACCOUNT"]
    token_url = os.environ["MDH_TOKEN_URL"]
    key_pem = Path(os.environ["MDH_PRIVATE_KEY_FILE"]).read_text()
    with requests.Session() as http:
        form = {
            "scope": "api",
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(account, key_pem, token_url),
        }
        token = http.post(token_url, data=form, timeout=TIMEOUT)
        token.raise_for_status()
        headers = {
            "Authorization": token.json()["access_token"],
            "Accept": "application/json",
            "Content-Type": "application/json",
            "ProjectCode": os.environ["MDH_PROJECT_CODE"],
        }
        answer = http.post(os.environ["MDH_EXCHANGE_URL"], headers=headers, timeout=TIMEOUT)
        answer.raise_for_status()
    credentials = answer.json()
    print(
        json.dumps(
            {
                "Version": 1,
                "AccessKeyId": credentials["AccessKeyId"],
                "SecretAccessKey": credentials["SecretAccessKey"],
                "SessionToken": credentials["SessionToken"],
                "Expiration": credentials["Expiration"],
            }
        )
    )


if __name__ == "__main__":
    main()
