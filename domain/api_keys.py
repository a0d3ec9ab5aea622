"""API keys: making one, finding the one a request presents, revoking it, and when each was last used.

A key is `cvk_` and 32 random bytes in base62 (43 characters). Its row keeps the SHA-256 of the whole key and
its first characters (`prefix`), by which a presented key finds its row before the digests are compared in
constant time. Nothing about a key is cached in a process: every request reads its row, so a revocation
holds on the next request on every API process.

Last use is not written per request: each use sets the key's field in one Redis hash (`USAGE_KEY`), and
`flush_usage` (a scheduled job) moves those times into the rows. Reads show the later of the row and the
hash (`last_used`).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from datetime import datetime
from typing import Any, cast

import redis

from core.timeutil import from_timestamp
from domain.audit import Origin, record
from models.api_key import ApiKey
from models.db import db, utc_naive
from models.user import User

log = logging.getLogger(__name__)

KEY_PREFIX = "cvk_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_BYTES = 32
BODY_LENGTH = 43  # base62 digits of 256 bits: 62**43 > 2**256
VISIBLE = 8  # characters of the body shown as the key's prefix (48 of its 256 bits)
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[0-9A-Za-z]{{{BODY_LENGTH}}}$")
USAGE_KEY = "conveyor:api_keys:last_used"  # key id -> epoch seconds of its latest use, until flushed

# Delete each field whose value is still the one flushed: a use recorded since is kept for the next flush.
_FORGET_FLUSHED = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
"""


def base62(data: bytes, length: int) -> str:
    number, digits = int.from_bytes(data, "big"), []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def new_secret() -> str:
    return KEY_PREFIX + base62(secrets.token_bytes(KEY_BYTES), BODY_LENGTH)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def visible_prefix(secret: str) -> str:
    return secret[:len(KEY_PREFIX) + VISIBLE]


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def create_key(owner: User, name: str, scopes: list[str], expires_at: datetime | None,
               origin: Origin) -> tuple[ApiKey, str]:
    """A new key of `owner`'s and its secret, which is not kept: the caller shows it once.
    The single place keys are made; the audit log records it (`api_key.create`) in the same transaction."""
    secret = new_secret()
    with db.atomic():
        key = ApiKey.create(owner=owner, name=name, scopes=sorted(set(scopes)), prefix=visible_prefix(secret),
                            key_hash=digest(secret), expires_at=expires_at)
        _audit("api_key.create", key, owner, origin)
    return key, secret


def revoke_key(key: ApiKey, actor: User, origin: Origin) -> bool:
    """Revoke `key` now (`actor`: its owner or an admin); False when it was revoked already.
    The single place keys are revoked; the audit log records it (`api_key.revoke`) in the same transaction."""
    now = utc_naive()
    with db.atomic():
        revoked = ApiKey.update(revoked_at=now).where(ApiKey.id == key.id, ApiKey.revoked_at.is_null()).execute()
        if revoked:
            _audit("api_key.revoke", key, actor, origin)
    if revoked:
        key.revoked_at = now
    return bool(revoked)


def _audit(action: str, key: ApiKey, actor: User, origin: Origin) -> None:
    """The audit log's entry of a key's creation or revocation: its name, visible prefix and scopes, never more."""
    record(action, actor_id=actor.id, actor_label=actor.username, target=("api_key", key.id), origin=origin,
           details={"name": key.name, "prefix": key.prefix, "scopes": list(key.scopes)})


def find(secret: str) -> ApiKey | None:
    """The usable key (not revoked, not expired, its owner active) whose secret this is, with its owner; None
    for anything else, alike."""
    if not KEY_PATTERN.fullmatch(secret):
        return None
    wanted, now = digest(secret), utc_naive()
    for key in ApiKey.with_prefix(visible_prefix(secret)):
        if hmac.compare_digest(key.key_hash, wanted):
            return key if key.status(now) == "active" and key.owner.is_active else None
    return None


class _Recorded:
    """When this process last wrote each key's use to Redis: a busy key is written at most once a second
    (RECORD_EVERY), not on each of its requests. Bounded; only ever delays a last-use time by that second."""

    def __init__(self, size: int = 10_000) -> None:
        self.size, self.lock, self.at = size, threading.Lock(), dict[str, float]()

    def due(self, key: ApiKey, now: float) -> bool:
        with self.lock:  # by digest, not id: an id can name another key later (tests empty the table)
            if now - self.at.get(key.key_hash, float("-inf")) < RECORD_EVERY:
                return False
            if len(self.at) >= self.size:
                self.at.clear()
            self.at[key.key_hash] = now
            return True


RECORD_EVERY = 1.0
_recorded = _Recorded()


def record_use(client: redis.Redis, key: ApiKey) -> None:
    """Note that the key was used now (a Redis write at most once a second per key and process; the database
    hears of it at the next flush)."""
    now = time.time()
    if not _recorded.due(key, now):
        return
    try:
        client.hset(USAGE_KEY, str(key.id), f"{now:.3f}")
    except redis.RedisError:  # a lost last-use time must not refuse the request
        log.warning("could not record an API key's use", exc_info=True)


def _moment(raw: Any) -> datetime | None:
    try:
        moment = from_timestamp(float(raw))
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return None if moment is None else moment.replace(tzinfo=None)


def last_used(client: redis.Redis, keys: list[ApiKey]) -> dict[int, datetime | None]:
    """Each key's last use: its row's, or a later one not yet flushed."""
    pending: list[Any] = [None] * len(keys)
    if keys:
        try:
            pending = cast(list[Any], client.hmget(USAGE_KEY, [str(key.id) for key in keys]))
        except redis.RedisError:
            log.warning("could not read API keys' recent uses", exc_info=True)
    found: dict[int, datetime | None] = {}
    for key, raw in zip(keys, pending, strict=True):
        moments = [m for m in (key.last_used_at, _moment(raw)) if m is not None]
        found[key.id] = max(moments) if moments else None
    return found


def flush_usage(client: redis.Redis) -> dict[str, int]:
    """Write the uses recorded in Redis into the keys' rows (only where later than the row's), then forget them.
    A crash between the two writes them again next time, which changes nothing."""
    pending = cast(dict[str, str], client.hgetall(USAGE_KEY))
    written = 0
    with db.atomic():
        for field, raw in pending.items():
            moment = _moment(raw)
            if moment is None or not field.isdigit():
                continue
            written += ApiKey.update(last_used_at=moment).where(
                ApiKey.id == int(field), ApiKey.last_used_at.is_null() | (ApiKey.last_used_at < moment)).execute()
    if pending:
        client.eval(_FORGET_FLUSHED, 1, USAGE_KEY, *(part for pair in pending.items() for part in pair))
    return {"keys_used": len(pending), "rows_written": written}
