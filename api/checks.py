"""Probes of the backing services, shared by the health routes and the admin status page."""
from __future__ import annotations

import time
from typing import Any

import redis

from api.services import Services
from core import cache
from core.timeutil import from_timestamp, isoformat
from domain import telemetry
from models.db import db, is_postgres
from models.delivery import OPEN, Delivery
from models.webhook import WebhookEndpoint


def _timed(probe: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a probe reports any failure as data; it never raises
        return {"status": "down", "error": type(exc).__name__,
                "response_ms": round((time.perf_counter() - started) * 1000, 2)}
    return {"status": "up", "response_ms": round((time.perf_counter() - started) * 1000, 2)}


def database_check() -> dict[str, Any]:
    result = _timed(lambda: db.execute_sql("SELECT 1").fetchone())
    result["engine"] = "postgresql" if is_postgres() else "sqlite"
    return result


def redis_check(client: redis.Redis) -> dict[str, Any]:
    return _timed(client.ping)


def readiness(svc: Services) -> dict[str, dict[str, Any]]:
    return {"database": database_check(), "redis": redis_check(svc.redis)}


def deep(svc: Services) -> dict[str, Any]:
    """Everything an operator wants at a glance; sections that need Redis say so when it is down."""
    checks = readiness(svc)
    report: dict[str, Any] = dict(checks)
    if checks["redis"]["status"] == "up":
        report["queues"] = telemetry.queue_depths(svc.redis, svc.broker.get_declared_queues(),
                                                   svc.broker.namespace)
        workers = telemetry.live_workers(svc.redis)
        for worker in workers:
            worker["seen_at"] = isoformat(from_timestamp(worker["seen_at"]))
        report["workers"] = {"count": len(workers), "items": workers}
        tick = telemetry.scheduler_tick(svc.redis)
        report["scheduler"] = {"last_tick": isoformat(from_timestamp(tick["at"])) if tick else None,
                               "leader": tick["leader"] if tick else None,
                               "seconds_since_tick": round(time.time() - tick["at"], 2) if tick else None}
        report["cache"] = {"status": "up", "hit_rate": cache.hit_rate(svc.redis)}
        external = telemetry.external_services(svc.redis)
        for last in external.values():
            last["checked_at"] = last["checked_at"] and isoformat(from_timestamp(last["checked_at"]))
        report["external_services"] = external
    else:
        report["cache"] = {"status": "down", "hit_rate": None}
    if checks["database"]["status"] == "up":
        report["webhooks"] = webhook_summary()
    healthy = all(c["status"] == "up" for c in checks.values())
    report["status"] = "healthy" if healthy else "unhealthy"
    return report


SCHEDULER_SILENT_SECONDS = 60  # a scheduler that has not ticked for this long is not scheduling


def system_status(svc: Services, requests_total: int, process: dict[str, Any]) -> dict[str, Any]:
    """Seed 001's status: each component healthy or not, and this API process's own figures."""
    probes = readiness(svc)
    up = {name: probe["status"] == "up" for name, probe in probes.items()}
    workers = scheduler = False
    if up["redis"]:
        workers = bool(telemetry.live_workers(svc.redis))
        tick = telemetry.scheduler_tick(svc.redis)
        scheduler = tick is not None and time.time() - tick["at"] <= SCHEDULER_SILENT_SECONDS
    components = {"api": True, "database": up["database"], "cache": up["redis"], "workers": workers,
                  "scheduler": scheduler}
    uptime = time.time() - svc.started_at
    return {"status": "operational" if all(components.values()) else "degraded",
            "components": {name: "healthy" if ok else "unhealthy" for name, ok in components.items()},
            "metrics": {"uptime_seconds": round(uptime, 1), "requests_total": requests_total,
                        "requests_per_second": round(requests_total / uptime, 3) if uptime > 0 else 0.0,
                        "memory_percent": process["memory_percent"], "cpu_percent": process["cpu_percent"]}}


def services_list(svc: Services) -> list[dict[str, Any]]:
    """Seed 004's `services`: every API, worker and scheduler process seen in the last minute, by heartbeat."""
    return [{"name": info["kind"], "id": info["id"], "status": "running", "uptime": info.get("uptime_seconds"),
             "memory_usage": f"{round(info['memory_bytes'] / 1024 ** 2)}MB" if "memory_bytes" in info else None,
             "cpu_usage": f"{info['cpu_percent']}%" if "cpu_percent" in info else None,
             "memory_bytes": info.get("memory_bytes"), "cpu_percent": info.get("cpu_percent"),
             "last_seen": isoformat(from_timestamp(info["seen_at"]))}
            for info in telemetry.live_processes(svc.redis)]


def webhook_summary() -> dict[str, int]:
    """Endpoints active and failing (failed since their last success), and deliveries not yet settled."""
    active = WebhookEndpoint.select().where(WebhookEndpoint.is_active == True)  # noqa: E712
    return {"active": active.count(), "failing": active.where(WebhookEndpoint.failing_since.is_null(False)).count(),
            "disabled": WebhookEndpoint.select().where(WebhookEndpoint.is_active == False).count(),  # noqa: E712
            "pending_deliveries": Delivery.select().where(Delivery.status << OPEN).count(),
            "dead_deliveries": Delivery.select().where(Delivery.status == "dead").count()}
