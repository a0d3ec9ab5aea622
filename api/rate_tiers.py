"""Rate-limit tiers (seed 000: "custom limits for premium tiers"): the named tier a user is in decides their
per-user limit. Each API process remembers a user's tier for TIER_CACHE_SECONDS, so the limiter looks it up
once per user and interval rather than on every request; a change made here is seen at once by this process
and within that interval by the others."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask, current_app

from core.settings import STANDARD_TIER, Settings
from models.user import User

TIER_CACHE_SECONDS = 30.0
MAX_REMEMBERED = 10_000  # users remembered per process before the memory starts over


class UserTiers:
    def __init__(self, ttl: float = TIER_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._clock = ttl, clock
        self._known: dict[int, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def tier_of(self, user_id: int) -> str | None:
        """The user's tier as stored (None: standard)."""
        now = self._clock()
        known = self._known.get(user_id)
        if known is not None and known[1] > now:
            return known[0]
        tier = User.select(User.rate_limit_tier).where(User.id == user_id).scalar()
        with self._lock:
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            self._known[user_id] = (tier, now + self._ttl)
        return tier

    def forget(self, user_id: int) -> None:
        with self._lock:
            self._known.pop(user_id, None)


def install(app: Flask) -> UserTiers:
    tiers = app.extensions["conveyor_tiers"] = UserTiers()
    return tiers


def user_tiers() -> UserTiers:
    return current_app.extensions["conveyor_tiers"]


def tier_limit(settings: Settings, tier: str | None) -> str:
    """The per-user limit of a tier; a tier no longer configured falls back to the standard limit."""
    return settings.rate_limit_tiers.get(tier or STANDARD_TIER, settings.rate_limit_user)


def tier_names(settings: Settings) -> list[str]:
    return [STANDARD_TIER, *settings.rate_limit_tiers]
