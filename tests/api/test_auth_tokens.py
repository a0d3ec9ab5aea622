"""Access tokens that must be refused: expired, forged, unsigned (alg none), another algorithm, a claim
missing, a tampered payload, the wrong token type, a user who never existed.

Tokens are real JWTs; the hostile ones are crafted with pyjwt (or by hand) against a user who exists,
so that the one defect under test is the only reason for a 401.
"""
from __future__ import annotations

import time

import jwt
import pytest
from flask.testing import FlaskClient

from tests.conftest import create_user, login
from tests.support.auth import USERS, b64url, b64url_decode, bearer, get_me, refresh, sign, valid_claims
from tests.support.envelope import assert_error


def test_a_well_formed_crafted_token_is_accepted(client: FlaskClient) -> None:
    """The baseline for the rejection tests below: the crafted claims themselves are acceptable."""
    # given
    create_user("alice")
    token = sign(valid_claims("alice"))
    # when
    response = get_me(client, token)
    # then
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["username"] == "alice"


# --- hostile or broken tokens --------------------------------------------------------------------

def test_expired_token_answers_401(client: FlaskClient) -> None:
    # given: expired a minute ago, far beyond the 5 s leeway
    create_user("alice")
    now = int(time.time())
    token = sign(valid_claims("alice", iat=now - 3600, exp=now - 60))
    # when
    response = get_me(client, token)
    # then
    error = assert_error(response, 401, "UNAUTHORIZED")
    assert "expired" in error["message"].lower()


def test_token_expired_within_the_leeway_is_still_accepted(client: FlaskClient) -> None:
    # given: expired two seconds ago, inside the 5 s leeway for clock skew
    create_user("alice")
    now = int(time.time())
    token = sign(valid_claims("alice", iat=now - 600, exp=now - 2))
    # when / then
    assert get_me(client, token).status_code == 200


def test_token_signed_with_another_key_answers_401(client: FlaskClient) -> None:
    # given
    create_user("alice")
    token = sign(valid_claims("alice", role="admin"), key="another-secret-key-that-is-long-enough-9876")
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


def test_unsigned_alg_none_token_built_by_hand_answers_401(client: FlaskClient) -> None:
    # given: header.payload. with an empty signature
    create_user("alice")
    token = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(valid_claims('alice', role='admin'))}."
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


def test_unsigned_alg_none_token_from_pyjwt_answers_401(client: FlaskClient) -> None:
    # given
    create_user("alice")
    token = jwt.encode(valid_claims("alice", role="admin"), None, algorithm="none")
    assert token.endswith(".")  # pyjwt really produced an unsigned token
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_token_signed_with_the_real_secret_but_another_algorithm_answers_401(
        client: FlaskClient, algorithm: str) -> None:
    # given: the right key, but HS256 is pinned
    create_user("alice")
    token = sign(valid_claims("alice"), algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("claim", ["exp", "jti", "iat", "sid", "type", "sub", "uid", "stamp"])
def test_token_missing_a_required_claim_answers_401(client: FlaskClient, claim: str) -> None:
    # given
    create_user("alice")
    claims = valid_claims("alice")
    del claims[claim]
    # when / then
    assert_error(get_me(client, sign(claims)), 401, "UNAUTHORIZED")


def test_token_with_a_tampered_payload_answers_401(client: FlaskClient) -> None:
    # given: a genuine token whose payload is rewritten to say admin, signature kept
    create_user("alice")
    header, payload, signature = login(client, "alice")["access_token"].split(".")
    claims = b64url_decode(payload)
    assert claims["role"] == "user"
    claims["role"] = "admin"
    tampered = f"{header}.{b64url(claims)}.{signature}"
    # when / then
    assert_error(get_me(client, tampered), 401, "UNAUTHORIZED")
    assert_error(client.get(USERS, headers=bearer(tampered)), 401, "UNAUTHORIZED")


def test_garbage_token_answers_401(client: FlaskClient) -> None:
    # when / then
    assert_error(get_me(client, "not.a.jwt"), 401, "UNAUTHORIZED")


def test_refresh_token_is_not_accepted_as_an_access_token(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    # when / then
    assert_error(get_me(client, tokens["refresh_token"]), 401, "UNAUTHORIZED")


def test_access_token_is_not_accepted_as_a_refresh_token(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    # when / then
    assert_error(refresh(client, tokens["access_token"]), 401, "UNAUTHORIZED")


def test_token_for_a_user_who_never_existed_answers_401(client: FlaskClient) -> None:
    # given: correctly signed, but nobody is called "ghost"
    token = sign(valid_claims("ghost", role="admin"))
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")
