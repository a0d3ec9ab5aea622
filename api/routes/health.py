"""Health probes and Prometheus metrics: public, for load balancers and monitoring."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from api import checks
from api.blueprint import Blueprint
from api.errors import ApiError
from api.observability import requests_served
from api.services import services
from core.timeutil import isoformat, utcnow
from domain.processes import Process

blp = Blueprint("health", __name__, url_prefix="", description="Health probes")
PUBLIC: dict[str, Any] = {"security": []}
VERSION = "0.1.0"


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    timestamp = ma.fields.String(required=True)


class ProbeSchema(ma.Schema):
    status = ma.fields.String(required=True)
    checks = ma.fields.Dict()


class DeepHealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.Dict(required=True)
    redis = ma.fields.Dict(required=True)
    queues = ma.fields.Dict()
    workers = ma.fields.Dict()
    scheduler = ma.fields.Dict()
    webhooks = ma.fields.Dict(metadata={"description": "Endpoints active, failing and disabled; deliveries "
                                                      "pending and dead."})
    cache = ma.fields.Dict(metadata={"description": "The read cache: `status` (its Redis up or down) and "
                                                   "`hit_rate`."})
    external_services = ma.fields.Dict(metadata={
        "description": "github, gitlab, kubernetes: `status` of their last poll here (up, down, rate_limited, "
                       "unknown), `response_time_ms` (that whole poll) and `checked_at`."})


@blp.route("/health")
class Health(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """Is the API process up (no dependency checked): `status` is `healthy` (the seeds' word)"""
        return {"status": "healthy", "version": VERSION, "timestamp": isoformat(utcnow())}


class StatusSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "operational, or degraded"})
    timestamp = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    components = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True, metadata={
        "description": "api, database, cache, workers, scheduler: healthy or unhealthy"})
    metrics = ma.fields.Dict(required=True, metadata={
        "description": "This API process: uptime_seconds, requests_total, requests_per_second, memory_percent, "
                       "cpu_percent (since this process's previous status)."})


@blp.route("/health/status")
class Status(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, StatusSchema)
    def get(self) -> dict[str, Any]:
        """Components and this process's figures (seed 001's system status); 200 however degraded"""
        app = current_app
        process = app.extensions.get("status_process")
        if process is None:  # made at the first status, after gunicorn's fork: its CPU counts from there
            process = app.extensions["status_process"] = Process("api")
        report = checks.system_status(services(), requests_served(app), process.figures())
        return {**report, "version": VERSION, "timestamp": isoformat(utcnow())}


@blp.route("/health/live")
class Live(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, ProbeSchema)
    def get(self) -> dict[str, Any]:
        """Liveness: the process answers"""
        return {"status": "alive"}


@blp.route("/health/ready")
class Ready(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, ProbeSchema)
    @blp.alt_response(503, description="The database or Redis does not answer yet")
    def get(self) -> dict[str, Any]:
        """Readiness: 200 once the database and Redis answer, 503 until then"""
        result = checks.readiness(services())
        if any(c["status"] != "up" for c in result.values()):
            raise ApiError(503, "Not ready", details=result)
        return {"status": "ready", "checks": result}


@blp.route("/health/deep")
class Deep(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, DeepHealthSchema)
    def get(self) -> dict[str, Any]:
        """Database and Redis response times, queue depths, live workers and the scheduler's last tick"""
        return checks.deep(services())
