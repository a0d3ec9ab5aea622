"""The cache's figures and controls (`core.cache`), and the cached views: the dashboard summary. The
webhooks list and the alerts summary are cached in their own routes."""
from __future__ import annotations

import time
from typing import Any

import marshmallow as ma
from dramatiq.results import ResultTimeout
from flask.views import MethodView

from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.errors import ApiError
from api.schemas.common import StrictSchema, UtcDateTime
from api.services import services
from core import cache
from core.timeutil import utcnow
from workers.jobs import warm_cache

blp = Blueprint("cache", __name__, url_prefix="/api/v1/cache", description="The read cache")
WARM_TIMEOUT_MS = 30_000
PATTERN = r"^[A-Za-z0-9_:*?\[\]-]{1,200}$"


class StatsSchema(ma.Schema):
    hit_rate = ma.fields.Float(required=True)
    total_requests = ma.fields.Integer(required=True)
    cache_hits = ma.fields.Integer(required=True)
    cache_misses = ma.fields.Integer(required=True)
    evicted_entries = ma.fields.Integer(required=True, metadata={
        "description": "Entries removed before their TTL ran out (by a write, or by invalidate)."})
    current_size_bytes = ma.fields.Integer(required=True, metadata={"description": "Redis MEMORY USAGE, summed."})
    max_size_bytes = ma.fields.Integer(required=True, metadata={"description": "maxmemory, else CACHE_MAX_BYTES"})
    ttl_seconds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True, metadata={
        "description": "Each entry's time to live (CACHE_TTL_WEBHOOKS_LIST, CACHE_TTL_ALERTS_LIST, ...)."})


class WarmedSchema(ma.Schema):
    status = ma.fields.String(required=True)
    warmed_entries = ma.fields.Integer(required=True)
    duration_ms = ma.fields.Float(required=True)
    timestamp = UtcDateTime(required=True)


class InvalidateSchema(StrictSchema):
    keys = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(tuple(cache.ENTRIES))),
                          validate=ma.validate.Length(min=1, max=len(cache.ENTRIES)))
    pattern = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(PATTERN), metadata={
        "description": "A glob over entry keys, e.g. `webhooks_*` or `dashboard:u7:*`."})

    @ma.validates_schema
    def _one_of(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("keys") and not data.get("pattern"):
            raise ma.ValidationError("Give `keys`, `pattern`, or both.", "_schema")


class InvalidatedSchema(ma.Schema):
    invalidated = ma.fields.Integer(required=True)
    total_entries = ma.fields.Integer(required=True, metadata={"description": "Entries left in the cache."})


@blp.route("/stats")
class Stats(MethodView):
    @auth_required()
    @blp.response(200, StatsSchema)
    def get(self) -> dict[str, Any]:
        """Hits, misses and evictions across every API process, and the cache's size"""
        svc = services()
        return cache.stats(svc.redis, svc.settings.cache_max_bytes, svc.settings.cache_ttls)


@blp.route("/warm")
class Warm(MethodView):
    @auth_required("admin")
    @blp.response(200, WarmedSchema)
    def post(self) -> dict[str, Any]:
        """Run the `warm_cache` job now and wait for it (503 when no worker answers within 30 s)"""
        message = warm_cache.send_with_options(trigger="manual")
        started = time.monotonic()
        try:
            result = message.get_result(block=True, timeout=WARM_TIMEOUT_MS)
        except ResultTimeout:
            raise ApiError(503, "No worker warmed the cache within 30 s; it stays queued") from None
        return {"status": "success", "warmed_entries": result["warmed_entries"],
                "duration_ms": round((time.monotonic() - started) * 1000, 1), "timestamp": utcnow()}


@blp.route("/invalidate")
class Invalidate(MethodView):
    @auth_required("admin")
    @blp.arguments(InvalidateSchema)
    @blp.response(200, InvalidatedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, int]:
        """Drop entries by name (every user's) and/or by a glob over their keys (SCAN + UNLINK)"""
        client = services().redis
        removed = cache.invalidate_request(client, body.get("keys") or [], body.get("pattern"))
        return {"invalidated": removed, "total_entries": len(cache.entries(client))}
