"""Authlib's client-credentials flow against a real Gatehouse (run by test/sdk/interop.test.ts).

A service account is the confidential client: its id as client_id, one of its API keys as
client_secret, sent by client_secret_basic and then by client_secret_post. PyJWT's PyJWKClient
verifies each access token. Prints one JSON line of findings.
Usage: python3 client-credentials-interop.py BASE_URL ISSUER AUDIENCE CLIENT_ID CLIENT_SECRET
"""
import json
import sys

from authlib.integrations.requests_client import OAuth2Session
from interop_verify import claims_verifier

base, issuer, audience, client_id, client_secret = sys.argv[1:6]
token_endpoint = base + "/auth/token"
verified = claims_verifier(base, issuer, audience)


def verify(access_token):
    header, claims = verified(access_token)
    return {"typ": header.get("typ"), "sub": claims["sub"], "client_id": claims["client_id"], "scope": claims.get("scope"), "sid": claims.get("sid")}


result = {}
for method in ("client_secret_basic", "client_secret_post"):
    client = OAuth2Session(client_id=client_id, client_secret=client_secret, token_endpoint_auth_method=method, scope="profile")
    token = client.fetch_token(token_endpoint, grant_type="client_credentials")
    result[method] = {**verify(token["access_token"]), "token_type": token["token_type"], "refresh_token": token.get("refresh_token")}

wrong = OAuth2Session(client_id=client_id, client_secret=client_secret[:-1] + ("1" if client_secret[-1] == "0" else "0"), token_endpoint_auth_method="client_secret_basic")
try:
    wrong.fetch_token(token_endpoint, grant_type="client_credentials")
    result["wrong_secret"] = "accepted"
except Exception as error:  # Authlib raises OAuthError carrying the RFC 6749 error code
    result["wrong_secret"] = getattr(error, "error", type(error).__name__)
print(json.dumps(result))
