"""Helpers of the API key tests (tests/api/test_api_keys*.py, tests/security/test_api_keys.py)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from models.db import db

KEYS = "/api/v1/api-keys"


def make_key(client: Any, headers: dict[str, str], scopes: list[str], name: str = "ci", **extra: Any) -> dict[str, Any]:
    """A new key of the signed-in user's (`headers`): the whole 201 body, with the key itself."""
    response = client.post(KEYS, headers=headers, json={"name": name, "scopes": scopes, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def with_key(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def bearer_key(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement this process runs while the block does."""
    seen: list[str] = []
    database: Any = db.obj
    original = database.execute_sql

    def spy(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        seen.append(sql)
        return original(sql, params, *args, **kwargs)

    database.execute_sql = spy
    try:
        yield seen
    finally:
        database.execute_sql = original
