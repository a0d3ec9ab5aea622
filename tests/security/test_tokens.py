"""Hostile JWTs that tests/api/test_auth_tokens.py does not already try (OWASP API2, broken authentication): algorithm
confusion (HS256 keyed with an RSA public key, RS256, ES256), key-locating headers (`kid`, `jku`, `x5u`,
`jwk`), claims from the future, identities that disagree, and a token in the query string."""
from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient

from tests.conftest import TEST_SECRET, create_user, login
from tests.support.auth import b64url, bearer, get_me, sign, valid_claims
from tests.support.envelope import assert_error
from tests.support.receiver import receiving

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def hmac_with_raw_key(claims: dict[str, Any], key: bytes, header: dict[str, Any] | None = None) -> str:
    """HS256 keyed with arbitrary bytes, built by hand: pyjwt itself refuses a PEM as an HMAC key."""
    import base64
    import hashlib
    import hmac

    signing_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT', **(header or {})})}.{b64url(claims)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


@pytest.fixture
def alice(client: FlaskClient) -> str:
    create_user("alice")
    return "alice"


def test_hs256_keyed_with_an_rsa_public_key_is_refused(client: FlaskClient, alice: str) -> None:
    """The classic confusion: a server that verified RS256 with a public key would accept an HS256
    signature keyed with that same public PEM. Ours knows one HMAC secret and HS256 only."""
    pem = public_pem(rsa_key())
    for key in (pem, pem.strip(), pem.decode().replace("\n", "").encode()):
        assert_error(get_me(client, hmac_with_raw_key(valid_claims(alice, role="admin"), key)), 401, "UNAUTHORIZED")
    # The baseline: the same hand-built signature with the real secret is accepted, so only the key differs.
    assert get_me(client, hmac_with_raw_key(valid_claims(alice), TEST_SECRET.encode())).status_code == 200


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256"])
def test_asymmetric_tokens_are_refused(client: FlaskClient, alice: str, algorithm: str) -> None:
    key: Any = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else rsa_key()
    token = jwt.encode(valid_claims(alice, role="admin"), key, algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("algorithm", ["hs256", "HS256 ", "none", "None", "NONE"])
def test_odd_spellings_of_the_algorithm_are_refused(client: FlaskClient, alice: str, algorithm: str) -> None:
    token = hmac_with_raw_key(valid_claims(alice), TEST_SECRET.encode(), {"alg": algorithm})
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


def test_key_locating_headers_are_ignored_and_never_fetched(client: FlaskClient, alice: str) -> None:
    """`kid` pointing at an empty file, `jku`/`x5u` at an attacker's key set, an embedded `jwk`: each signed
    with the key the header suggests. None is believed, and nothing is fetched from the URLs."""
    attacker = rsa_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    with receiving([200]) as keys_server:
        claims = valid_claims(alice, role="admin")
        forged = [
            hmac_with_raw_key(claims, b"", {"kid": "../../../../../../dev/null"}),
            hmac_with_raw_key(claims, b"", {"kid": "' UNION SELECT '' --"}),
            jwt.encode(claims, attacker, algorithm="RS256", headers={"jku": keys_server.url, "kid": "k"}),
            jwt.encode(claims, attacker, algorithm="RS256", headers={"x5u": keys_server.url}),
            jwt.encode(claims, attacker, algorithm="RS256", headers={"jwk": jwk}),
            hmac_with_raw_key(claims, json.dumps(jwk).encode(), {"jwk": jwk}),
        ]
        for token in forged:
            assert_error(get_me(client, token), 401, "UNAUTHORIZED")
        assert keys_server.count() == 0
    # A `kid` on a token signed with the real secret changes nothing either way: it is accepted as any other.
    assert get_me(client, sign(valid_claims(alice), algorithm="HS256")).status_code == 200


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_from_the_future_is_refused(client: FlaskClient, alice: str, claim: str) -> None:
    """Signed with the real secret but issued (or valid) only an hour from now: a clock-skewed or stolen
    signing process, not a token this server issued."""
    later = int(time.time()) + 3600
    claims = {**valid_claims(alice), claim: later}
    assert_error(get_me(client, sign(claims)), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("exp", ["never", None, "", [1], {"t": 1}])
def test_a_malformed_expiry_is_refused(client: FlaskClient, alice: str, exp: Any) -> None:
    assert_error(get_me(client, sign(valid_claims(alice, exp=exp))), 401, "UNAUTHORIZED")


def test_the_token_is_the_account_it_was_issued_to_whatever_its_subject_says(
        client: FlaskClient, alice: str) -> None:
    """`sub` naming another user, or `uid` pointing at them without their session stamp, never makes the
    token theirs: the account is `uid`, and only while its stamp matches."""
    create_user("bob", role="admin")
    bob = get_me(client, login(client, "bob")["access_token"]).get_json()
    as_bob_by_name = get_me(client, sign(valid_claims(alice, sub="bob", role="admin")))
    assert as_bob_by_name.status_code == 200 and as_bob_by_name.get_json()["username"] == "alice"
    assert as_bob_by_name.get_json()["role"] == "user"
    for uid in (bob["id"], str(bob["id"]), f"{bob['id']} ", [bob["id"]]):
        assert_error(get_me(client, sign(valid_claims(alice, uid=uid))), 401, "UNAUTHORIZED")


def test_a_token_in_the_query_string_is_not_accepted_by_the_rest_api(client: FlaskClient, alice: str) -> None:
    """`?token=` is for WebSockets only: on REST routes it would end up in access logs and proxies."""
    token = login(client, alice)["access_token"]
    assert_error(client.get(f"/api/v1/users/me?token={token}"), 401, "UNAUTHORIZED")
    assert get_me(client, token).status_code == 200 and bearer(token)


def test_a_token_remembered_as_verified_still_expires_and_is_still_revocable(client: FlaskClient, alice: str) -> None:
    """The API keeps the claims of tokens it verified (tokens.VerifiedTokens): that must not extend a token
    past its `exp` (plus the 5 s leeway), nor outlive a logout."""
    token = sign(valid_claims(alice, exp=int(time.time()) - 4))  # inside the leeway: accepted, remembered
    assert get_me(client, token).status_code == 200
    time.sleep(1.5)
    assert assert_error(get_me(client, token), 401, "UNAUTHORIZED")["message"] == "Token has expired"

    session = login(client, alice)["access_token"]
    assert get_me(client, session).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(session)).status_code in (200, 204)
    assert assert_error(get_me(client, session), 401, "UNAUTHORIZED")["message"] == "Token has been revoked"
