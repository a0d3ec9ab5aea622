"""Passwords (OWASP API2): stored with a slow, salted KDF at least as costly as OWASP's minimum, and a login
costs the same whether the username exists or not, so that timing does not tell which users exist."""
from __future__ import annotations

import statistics
import time
from typing import Any

from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from models.db import db
from models.user import User, _dummy_hash
from tests.conftest import PASSWORD, create_user

# OWASP Password Storage Cheat Sheet: argon2id at any of these (memory KiB, passes), one lane, is the minimum.
OWASP_ARGON2ID = [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)]


def parameters(stored: str) -> tuple[str, int, int, int, str, str]:
    """(variant, memory KiB, passes, lanes, salt, hash) of `$argon2id$v=19$m=M,t=T,p=P$salt$hash`."""
    _, variant, _, costs, salt, digest = stored.split("$")
    cost = dict(item.split("=") for item in costs.split(","))
    return variant, int(cost["m"]), int(cost["t"]), int(cost["p"]), salt, digest


def meets_owasp(memory: int, passes: int, lanes: int) -> bool:
    return lanes >= 1 and any(memory >= low_m and passes >= low_t for low_m, low_t in OWASP_ARGON2ID)


def stored_hash(username: str) -> str:
    with db.connection_context():
        return str(User.get(User.username == username).password_hash)


def test_every_way_a_password_is_set_stores_argon2id_at_owasps_minimum(client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    created = client.post("/api/v1/users", headers=admin, json={"username": "api-made", "password": "api-pass-123"})
    assert created.status_code == 201
    changed = client.put(f"/api/v1/users/{created.get_json()['id']}", headers=admin, json={"password": "new-pass-456"})
    assert changed.status_code == 200
    create_user("model-made", password="model-pass-789")
    hashes = {"created by the API": stored_hash("admin-user"), "changed by the API": stored_hash("api-made"),
              "set on the model": stored_hash("model-made"), "the unknown-user stand-in": _dummy_hash()}
    for what, stored in hashes.items():
        variant, memory, passes, lanes, salt, digest = parameters(stored)
        assert variant == "argon2id" and meets_owasp(memory, passes, lanes), (what, stored)
        assert len(salt) >= 21 and len(digest) >= 43, what  # 16-byte salt, 32-byte hash (base64)
    assert len({stored.split("$")[4] for stored in hashes.values()}) == len(hashes)  # a salt each
    assert len({stored.split("$")[3] for stored in hashes.values()}) == 1  # one cost for all: same timing
    assert "new-pass-456" not in hashes["changed by the API"] and "model-pass-789" not in hashes["set on the model"]


def test_an_older_scrypt_hash_still_logs_in_and_is_upgraded_keeping_the_session(client: FlaskClient) -> None:
    user = create_user("old-timer")
    with db.connection_context():
        User.update(password_hash=generate_password_hash(PASSWORD, method="scrypt")).where(
            User.id == user.id).execute()
    stamp = user.token_stamp
    assert client.post("/api/v1/auth/login", json={"username": "old-timer", "password": "wrong"}).status_code == 401
    assert stored_hash("old-timer").startswith("scrypt:")
    assert client.post("/api/v1/auth/login", json={"username": "old-timer", "password": PASSWORD}).status_code == 200
    assert parameters(stored_hash("old-timer"))[0] == "argon2id"
    with db.connection_context():
        assert User.get_by_id(user.id).token_stamp == stamp  # the upgrade ends no session
    assert client.post("/api/v1/auth/login", json={"username": "old-timer", "password": PASSWORD}).status_code == 200


def test_a_wrong_password_costs_about_as_long_as_an_unknown_user(client: FlaskClient) -> None:
    """Medians of alternating attempts, compared as a ratio (the machine is shared: no absolute times)."""
    create_user("alice")
    costs: dict[str, list[float]] = {"wrong password": [], "unknown user": [], "right password": []}
    attempts = {"wrong password": ("alice", "not-her-password"), "unknown user": ("nobody-at-all", PASSWORD),
                "right password": ("alice", PASSWORD)}
    for _ in range(8):
        for what, (username, password) in attempts.items():
            started = time.perf_counter()
            response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
            costs[what].append(time.perf_counter() - started)
            assert response.status_code == (200 if what == "right password" else 401)
    median = {what: statistics.median(times) for what, times in costs.items()}
    assert 0.67 < median["unknown user"] / median["wrong password"] < 1.5, median
    assert 0.67 < median["right password"] / median["wrong password"] < 1.5, median
