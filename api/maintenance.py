"""Maintenance mode, kept in Redis so that every API process sees it at once."""
from __future__ import annotations

import json
from typing import Any, cast

import redis

MAINTENANCE_KEY = "conveyor:maintenance"


def maintenance_state(client: redis.Redis) -> dict[str, Any]:
    raw = cast(str | None, client.get(MAINTENANCE_KEY))
    return json.loads(raw) if raw else {"enabled": False, "message": None}


def set_maintenance(client: redis.Redis, state: dict[str, Any]) -> None:
    client.set(MAINTENANCE_KEY, json.dumps(state))
