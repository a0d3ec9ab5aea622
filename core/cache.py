"""A Redis cache of named entries, shared by every API process and warmed by a worker.

Each entry has a TTL (`ENTRIES` has the defaults; `CACHE_TTL_<ENTRY>` settings replace them, passed in by
the callers) and is stored per scope and query:
`conveyor:cache:{entry}:{scope}:{digest of the query}`, where the scope is `u{user id}` for data a user
sees differently from another (their webhooks, their dashboard), `o{organization id}` for what every member
of an organization sees alike (a team, a repository, developers' figures), and `all` for shared data (the
alerts summary), so a cached response is never served across users or organizations. Values are JSON.

Hits, misses and evictions (entries removed before their TTL ran out: by a write that changed them, or by
`POST /cache/invalidate`) are counted in one Redis hash, so every API process sees the same figures.
Invalidation never uses KEYS: it walks the keyspace with SCAN and removes with UNLINK.

A value built from the database is stored only if nothing invalidated its entry and scope while it was being
built: each (entry, scope) has a generation counter, which invalidation bumps before it removes keys; a reader
notes the generation with its look-up and stores (a Lua script) only if it is unchanged. Without it, a read
that began before a write and stored after the write's invalidation kept the old value for a whole TTL.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import redis

PREFIX = "conveyor:cache:"
STATS = "conveyor:cache-stats"  # outside PREFIX: invalidating `*` never resets the figures
GENERATION = "conveyor:cache-generation:"  # outside PREFIX too; `{entry}:{scope}`, and `{entry}` for all scopes
GENERATION_TTL = 7 * 24 * 3600  # longer than any entry's TTL: a generation that expired reads as "" again
# KEYS: the value's name, its (entry, scope) generation, its entry's; ARGV: the two generations read before the
# value was built, the value, its TTL.
_STORE_IF_UNCHANGED = """
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] and (redis.call('GET', KEYS[3]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  return 1
end
return 0
"""
ENTRIES = {"webhooks_list": 120, "alerts_summary": 60, "alerts_list": 60, "dashboard": 300,
           # Engineering intelligence (seed 002: a team 30 min, a repository 15 min, figures 5 min), per organization.
           "team": 1800, "repository": 900, "engineering_figures": 300}
SINGLE = {"alerts_summary", "dashboard"}  # one key per scope (no query arguments): dropped without a SCAN
SCAN_COUNT = 500


def key(entry: str, scope: str, query: Mapping[str, Any] | None = None) -> str:
    """The Redis key of `entry` for `scope` (`u{id}` or `all`) and the query's arguments."""
    if entry not in ENTRIES:
        raise ValueError(f"unknown cache entry {entry!r}")
    canonical = json.dumps(dict(query or {}), sort_keys=True, separators=(",", ":"), default=str)
    return f"{PREFIX}{entry}:{scope}:{hashlib.sha1(canonical.encode()).hexdigest()[:16]}"  # noqa: S324 (a name)


def user_scope(user_id: int) -> str:
    return f"u{user_id}"


def organization_scope(organization_id: int) -> str:
    """Data every member of an organization sees alike (who may see it is checked before the cache is read)."""
    return f"o{organization_id}"


def cached_json(client: redis.Redis, entry: str, scope: str, query: Mapping[str, Any] | None,
                build: Callable[[], Any], ttl: int) -> bytes | str:
    """The cached value as JSON text, or `build()`'s, stored for the entry's TTL. A hit is one round trip: the
    read and its count are pipelined, counted as a hit, and a miss takes that back when it stores. A Redis
    failure is a miss that is not stored: the cache never makes a read fail."""
    name, generations = key(entry, scope, query), _generation_keys(entry, scope)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.get(name)
        for generation in generations:
            pipe.get(generation)
        pipe.hincrby(STATS, "hits", 1)
        raw, *seen, _ = pipe.execute()
    except redis.RedisError:
        return dumps(build())
    if raw is not None:
        return cast(bytes | str, raw)
    text = dumps(build())
    try:
        pipe = client.pipeline(transaction=False)
        pipe.eval(_STORE_IF_UNCHANGED, 3, name, *generations, *(g or "" for g in seen), text, ttl)
        pipe.hincrby(STATS, "hits", -1)
        pipe.hincrby(STATS, "misses", 1)
        pipe.execute()
    except redis.RedisError:
        pass
    return text


def _generation_keys(entry: str, scope: str) -> tuple[str, str]:
    return f"{GENERATION}{entry}:{scope}", f"{GENERATION}{entry}"


def _bump(client: redis.Redis, generations: Iterable[str]) -> None:
    """Before an invalidation removes values: a value being built now will not be stored."""
    pipe = client.pipeline(transaction=False)
    for generation in generations:
        pipe.incr(generation)
        pipe.expire(generation, GENERATION_TTL)
    pipe.execute()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def store(client: redis.Redis, entry: str, scope: str, query: Mapping[str, Any] | None, build: Callable[[], Any],
          ttl: int) -> bool:
    """Build a value and store it (the warmer), unless its entry and scope were invalidated meanwhile."""
    name, generations = key(entry, scope, query), _generation_keys(entry, scope)
    try:
        seen = cast(list[Any], client.mget(generations))
        text = dumps(build())
        return bool(client.eval(_STORE_IF_UNCHANGED, 3, name, *generations, *(g or "" for g in seen), text, ttl))
    except redis.RedisError:
        return False


def _unlink(client: redis.Redis, names: Iterable[str]) -> int:
    removed, batch = 0, []
    for name in names:
        batch.append(name)
        if len(batch) >= SCAN_COUNT:
            removed += cast(int, client.unlink(*batch))
            batch = []
    if batch:
        removed += cast(int, client.unlink(*batch))
    if removed:
        client.hincrby(STATS, "evictions", removed)
    return removed


def matching(client: redis.Redis, pattern: str) -> Iterable[str]:
    """Cache keys matching a glob over the part after the prefix (`webhooks_*`), by SCAN."""
    for name in client.scan_iter(match=PREFIX + pattern, count=SCAN_COUNT):
        yield name.decode() if isinstance(name, bytes) else str(name)


def invalidate(client: redis.Redis, entry: str, scopes: Iterable[str] | None = None) -> int:
    """Drop an entry for some scopes (every scope when None); returns how many keys went."""
    try:
        scopes = None if scopes is None else list(scopes)
        _bump(client, [f"{GENERATION}{entry}"] if scopes is None else
              [_generation_keys(entry, scope)[0] for scope in scopes])
        if scopes is not None and entry in SINGLE:
            return _unlink(client, [key(entry, scope) for scope in scopes])
        patterns = [f"{entry}:*"] if scopes is None else [f"{entry}:{scope}:*" for scope in scopes]
        return sum(_unlink(client, matching(client, pattern)) for pattern in patterns)
    except redis.RedisError:
        return 0  # it expires on its own; the write that called this has committed


def invalidate_request(client: redis.Redis, keys: Iterable[str], pattern: str | None) -> int:
    """`POST /cache/invalidate`: entry names (every scope of each) and/or a glob over the key names (which may
    name any entry: every entry's generation moves on)."""
    keys = list(keys)
    _bump(client, [f"{GENERATION}{name}" for name in (ENTRIES if pattern else keys)])
    removed = sum(_unlink(client, matching(client, f"{name}:*")) for name in keys)
    if pattern:
        removed += _unlink(client, matching(client, pattern))
    return removed


def entries(client: redis.Redis) -> list[str]:
    return list(matching(client, "*"))


def _counts(client: redis.Redis) -> dict[str, int]:
    return _decoded_counts(client.hgetall(STATS))


def _decoded_counts(raw: Any) -> dict[str, int]:
    return {k.decode() if isinstance(k, bytes) else str(k): int(v) for k, v in cast(dict[Any, Any], raw).items()}


def _rate(counts: dict[str, int]) -> float:
    hits, misses = counts.get("hits", 0), counts.get("misses", 0)
    return round(hits / (hits + misses), 4) if hits + misses else 0.0


def hit_rate(client: redis.Redis) -> float:
    """Hits over lookups so far (0 before any), without walking the keys as `stats` does."""
    return _rate(_counts(client))


def stats(client: redis.Redis, configured_max: int, ttls: Mapping[str, int]) -> dict[str, Any]:
    """The spec's figures: size from Redis's own memory accounting of the cache keys, max from `maxmemory`
    when Redis has one, else the configured cap. Two round trips for a small keyspace: the counters, the
    configuration and the first SCAN batch together, then each batch's MEMORY USAGE with the next SCAN."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(STATS)
    pipe.config_get("maxmemory")
    pipe.scan(0, match=PREFIX + "*", count=SCAN_COUNT)
    raw, config, (cursor, names) = pipe.execute()
    counts = _decoded_counts(raw)
    hits, misses = counts.get("hits", 0), counts.get("misses", 0)
    size = 0
    while names or cursor:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name)
        if cursor:
            pipe.scan(cursor, match=PREFIX + "*", count=SCAN_COUNT)
        replies = pipe.execute()
        usages, (cursor, names) = (replies[:-1], replies[-1]) if cursor else (replies, (0, []))
        size += sum(int(usage or 0) for usage in usages)
    maxmemory = int(cast(dict[str, Any], config).get("maxmemory") or 0)
    return {"hit_rate": _rate(counts), "total_requests": hits + misses, "cache_hits": hits, "cache_misses": misses,
            "evicted_entries": counts.get("evictions", 0), "current_size_bytes": size,
            "max_size_bytes": maxmemory or configured_max, "ttl_seconds": dict(ttls)}
