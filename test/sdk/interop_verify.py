"""PyJWT verification of Gatehouse access tokens, shared by the Python interop scripts."""
import jwt
from jwt import PyJWKClient


def claims_verifier(base, issuer, audience):
    """A function: access token -> (header, claims), verified with PyJWKClient against the live JWKS."""
    jwks = PyJWKClient(base + "/.well-known/jwks.json")

    def verified(access_token):
        key = jwks.get_signing_key_from_jwt(access_token)
        claims = jwt.decode(
            access_token,
            key.key,
            algorithms=["EdDSA", "ES256", "RS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
        return jwt.get_unverified_header(access_token), claims

    return verified
