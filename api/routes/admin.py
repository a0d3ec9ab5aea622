"""Operations for admins: system status, maintenance mode, rate-limit tiers, and the scheduled jobs."""
from __future__ import annotations

import time
from typing import Any, cast

import peewee
from flask import current_app
from flask.views import MethodView

from api import checks
from api.audit import audit
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import not_found
from api.maintenance import maintenance_state, set_maintenance
from api.rate_tiers import tier_limit, tier_names
from api.ratelimit import route_limits
from api.routes.health import VERSION
from api.schemas.admin import (
    JobRunSchema,
    JobSchema,
    MaintenanceSchema,
    MaintenanceStateSchema,
    RateLimitTiersSchema,
    SystemStatusSchema,
)
from api.schemas.common import ListArgsSchema, page_of
from api.services import services
from core.settings import STANDARD_TIER
from core.timeutil import from_timestamp, isoformat, utcnow
from domain import telemetry
from models.db import db
from models.migrations import current_version
from models.user import User
from workers.schedule import JOBS, Job, find_job

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Operations (admin only)")
_TIMES = ("last_run_at", "next_run_at", "last_finished_at")


@blp.route("/system/status")
class SystemStatus(MethodView):
    @auth_required("admin")
    @blp.response(200, SystemStatusSchema)
    def get(self) -> dict[str, Any]:
        """Services, queues, workers, scheduler, maintenance and settings in one view"""
        svc = services()
        report = checks.deep(svc)
        report["database"]["schema_version"] = current_version()
        report["database"]["latency_ms"] = report["database"]["response_ms"]  # seed 004's name
        report["services"] = checks.services_list(svc) if report["redis"]["status"] == "up" else []
        if report["redis"]["status"] == "up":
            info = cast(dict[str, Any], svc.redis.info())
            report["redis"].update({k: info.get(k) for k in ("redis_version", "used_memory", "connected_clients")})
            report["maintenance"] = maintenance_state(svc.redis)
        report.update(version=VERSION, environment=svc.settings.env, users=User.select().count(),
                      uptime_seconds=round(time.time() - svc.started_at, 1), settings=svc.settings.public())
        return report


@blp.route("/maintenance")
class Maintenance(MethodView):
    @auth_required("admin")
    @blp.arguments(MaintenanceSchema)
    @blp.response(200, MaintenanceStateSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Switch maintenance mode: while on, writes by non-admins answer 503 MAINTENANCE"""
        new_state = {**body, "changed_by": current_user().username, "changed_at": isoformat(utcnow())}
        # The state lives in Redis: the entry is written first and kept only if Redis took the change.
        with db.atomic():
            audit("maintenance.toggle", details=body)
            set_maintenance(services().redis, new_state)
        return new_state


@blp.route("/rate-limit-tiers")
class RateLimitTiers(MethodView):
    @auth_required("admin")
    @blp.response(200, RateLimitTiersSchema)
    def get(self) -> dict[str, Any]:
        """The rate-limit tiers a user can be put in (RATE_LIMIT_TIERS), each with its limit and how many users
        it has; set a user's with `PUT /api/v1/users/{id}` `{"rate_limit_tier": ...}`"""
        settings = services().settings
        counts: dict[str | None, int] = dict(User.select(User.rate_limit_tier, peewee.fn.COUNT(User.id))
                      .group_by(User.rate_limit_tier).tuples())  # type: ignore[arg-type]
        items = [{"name": name, "limit": tier_limit(settings, name),
                  "users": counts.get(None if name == STANDARD_TIER else name, 0)} for name in tier_names(settings)]
        paths = {rule.endpoint: rule.rule for rule in current_app.url_map.iter_rules()}
        return {"items": items, "route_limits": {f"{method} {paths[endpoint]}": limit
                                                 for (endpoint, method), limit in route_limits(settings).items()}}


def _describe(job: Job, recorded: dict[str, Any]) -> dict[str, Any]:
    interval = job.interval_seconds and services().settings.scheduler_intervals.get(job.name, job.interval_seconds)
    entry = {"name": job.name, "actor": job.actor_name, "description": job.description,
             "interval_seconds": interval, "after": job.after and job.after.actor_name, **recorded}
    for field in _TIMES:
        entry[field] = isoformat(from_timestamp(recorded.get(field)))
    return entry


@blp.route("/jobs")
class Jobs(MethodView):
    @auth_required("admin")
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, page_of(JobSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """The scheduled jobs with their last and next run and last outcome"""
        recorded = telemetry.job_states(services().redis, [job.name for job in JOBS])
        items = [_describe(job, recorded[job.name]) for job in JOBS]
        window = items[args["offset"]:args["offset"] + args["limit"]]
        return {"items": window, "total": len(items), **args}


@blp.route("/jobs/<string:name>/run")
class RunJob(MethodView):
    @auth_required("admin")
    @blp.response(202, JobRunSchema)
    def post(self, name: str) -> dict[str, Any]:
        """Enqueue a scheduled job now"""
        job = find_job(name)
        if job is None:
            raise not_found("Job", name)
        message = job.actor.send_with_options(trigger="manual")
        return {"name": job.name, "message_id": message.message_id, "status": "queued"}
