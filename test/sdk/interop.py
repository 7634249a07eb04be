"""Independent implementations against a real Gatehouse (run by test/sdk/interop.test.ts).

Authlib's OAuth 2 client does the password grant and a refresh_token grant at /auth/token; PyJWT's
PyJWKClient fetches the JWKS and verifies both access tokens. Prints one JSON line of findings.
Usage: python3 interop.py BASE_URL ISSUER AUDIENCE USERNAME PASSWORD
"""
import json
import sys

import jwt
from authlib.integrations.requests_client import OAuth2Session
from jwt import PyJWKClient

from interop_verify import claims_verifier

base, issuer, audience, username, password = sys.argv[1:6]
token_endpoint = base + "/auth/token"
jwks = PyJWKClient(base + "/.well-known/jwks.json")
verified = claims_verifier(base, issuer, audience)


def verify(access_token):
    header, claims = verified(access_token)
    return {"typ": header.get("typ"), "alg": header.get("alg"), "sub": claims["sub"], "scope": claims.get("scope")}


client = OAuth2Session(client_id="gatehouse-cli", token_endpoint_auth_method="none")
first = client.fetch_token(token_endpoint, grant_type="password", username=username, password=password)
second = client.refresh_token(token_endpoint, refresh_token=first["refresh_token"])
result = {
    "password_grant": verify(first["access_token"]),
    "refresh_grant": verify(second["access_token"]),
    "token_type": first["token_type"],
    "refresh_rotated": first["refresh_token"] != second["refresh_token"],
}
# A token of another issuer's audience must fail in PyJWT too (a sanity check of the check).
try:
    jwt.decode(second["access_token"], jwks.get_signing_key_from_jwt(second["access_token"]).key, algorithms=["EdDSA", "ES256", "RS256"], audience="https://someone-else.test")
    result["wrong_audience_refused"] = False
except jwt.InvalidAudienceError:
    result["wrong_audience_refused"] = True
print(json.dumps(result))
