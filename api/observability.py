"""Prometheus metrics for one app (request counts, failures, latencies and requests in progress; queue, worker
and WebSocket gauges read at scrape time) and the JSON access log: one line per request."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

import redis
from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from api.services import services
from domain import telemetry
from domain.processes import Process
from domain.webhooks import stats as webhook_stats
from models.db import QUERIES

access = logging.getLogger("conveyor.access")


class QueueCollector(Collector):
    """Queue depths and live workers, read from Redis when Prometheus scrapes."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        with self.app.app_context():
            svc = services()
            depth = GaugeMetricFamily("conveyor_queue_messages", "Messages per queue and state",
                                      labels=["queue", "state"])
            workers = GaugeMetricFamily("conveyor_workers_alive", "Worker processes seen in the last minute")
            messages = CounterMetricFamily("conveyor_messages", "Messages processed by workers, per outcome",
                                           labels=["actor", "outcome"])
            busy = CounterMetricFamily("conveyor_message_seconds", "Time workers spent per actor", labels=["actor"])
            try:
                for queue, counts in telemetry.queue_depths(svc.redis, svc.broker.get_declared_queues(),
                                                            svc.broker.namespace).items():
                    for name, value in counts.items():
                        depth.add_metric([queue, name], value)
                workers.add_metric([], len(telemetry.live_workers(svc.redis)))
                outcomes, seconds = telemetry.message_outcomes(svc.redis)
            except redis.RedisError:
                return
            for (actor, outcome), count in sorted(outcomes.items()):
                messages.add_metric([actor, outcome], count)
            for actor, total in sorted(seconds.items()):
                busy.add_metric([actor], total)
            yield from (depth, workers, messages, busy)
            yield from _webhook_metrics(svc.redis)


class QueryCollector(Collector):
    """The database statements this process ran, and their time (`models.db.QUERIES`)."""

    def collect(self) -> Iterator[Metric]:
        count, seconds = QUERIES.read()
        yield SummaryMetricFamily("conveyor_db_query_duration_seconds", "Database statements run by this process "
                                  "and their time", count_value=count, sum_value=seconds)


class SocketCollector(Collector):
    """Open WebSockets of this API process, by kind, from its stream hub (nothing counted per message)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        sockets = GaugeMetricFamily("conveyor_websocket_connections", "Open WebSockets of this API process",
                                    labels=["kind"])
        for kind, count in self.app.extensions["stream_hub"].open_sockets().items():
            sockets.add_metric([kind], count)
        yield sockets


def _webhook_metrics(client: redis.Redis) -> Iterator[Metric]:
    try:
        outcomes = webhook_stats.outcomes(client)
        buckets, total = webhook_stats.latency(client)
    except redis.RedisError:
        return
    deliveries = CounterMetricFamily("conveyor_webhook_deliveries", "Webhook delivery attempts and deferrals, "
                                     "per outcome (succeeded, failed, dead, gone, rate_limited, deferred)",
                                     labels=["outcome"])
    for outcome, count in sorted(outcomes.items()):
        deliveries.add_metric([outcome], count)
    yield deliveries
    yield HistogramMetricFamily("conveyor_webhook_attempt_duration_seconds", "Webhook HTTP attempt latency",
                                buckets=buckets, sum_value=total)


class Heartbeat:
    """An API process says it is alive from its requests, at most every BEAT_SECONDS (no thread of its own): an
    idle API process leaves the system status's list a minute after its last request; the one answering the
    status has just beaten."""

    BEAT_SECONDS = 5.0

    def __init__(self) -> None:
        self.process: Process | None = None  # made at the first beat: after gunicorn's fork
        self.last = float("-inf")
        self.lock = threading.Lock()

    def maybe_beat(self, client: redis.Redis) -> None:
        now = time.monotonic()
        if now - self.last < self.BEAT_SECONDS or not self.lock.acquire(blocking=False):
            return
        try:
            self.last = now
            if self.process is None or self.process.pid != os.getpid():
                self.process = Process("api")
            telemetry.record_beat(client, "api", self.process.figures())
        except redis.RedisError:
            pass  # Redis is away: the next request after BEAT_SECONDS tries again
        finally:
            self.lock.release()


def requests_served(app: Flask) -> int:
    """HTTP requests this API process has answered (its Prometheus counter, summed over labels)."""
    counter: Counter = app.extensions["http_requests"]
    return int(sum(sample.value for metric in counter.collect() for sample in metric.samples
                   if sample.name.endswith("_total")))


def registry() -> CollectorRegistry:
    return current_app.extensions["prometheus"]


def init_metrics(app: Flask, access_log: bool) -> None:
    reg = CollectorRegistry()
    requests_total = Counter("conveyor_http_requests_total", "HTTP requests",
                             ["method", "endpoint", "status"], registry=reg)
    failed = Counter("conveyor_http_requests_failed_total", "HTTP requests answered 4xx (client) or 5xx (server)",
                     ["method", "endpoint", "class"], registry=reg)
    in_progress = Gauge("conveyor_http_requests_in_progress", "HTTP requests being served now (WebSockets too)",
                        registry=reg)
    latency = Histogram("conveyor_http_request_duration_seconds", "HTTP request latency",
                        ["method", "endpoint"], registry=reg,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    reg.register(QueueCollector(app))
    reg.register(SocketCollector(app))
    reg.register(QueryCollector())
    app.extensions["prometheus"] = reg
    heartbeat = Heartbeat()
    app.extensions["http_requests"] = requests_total

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()
        in_progress.inc()
        g.in_progress = True

    @app.teardown_request
    def _done(exc: BaseException | None) -> None:
        if g.pop("in_progress", False):
            in_progress.dec()

    @app.after_request
    def _observe(response: Response) -> Response:
        heartbeat.maybe_beat(services().redis)
        # The URL rule, not the path: ids in paths would make unbounded label sets.
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        if response.status_code >= 400:
            failed.labels(request.method, endpoint, f"{response.status_code // 100}xx").inc()
        seconds = time.perf_counter() - g.started if "started" in g else None
        if seconds is not None:
            latency.labels(request.method, endpoint).observe(seconds)
        if access_log and access.isEnabledFor(logging.INFO):
            # The rule, not the path or its query string: no id, token or secret a client put in a URL.
            user = g.get("user")
            access.info("request", extra={"method": request.method, "path": endpoint,
                                          "status": response.status_code,
                                          "duration_ms": None if seconds is None else round(seconds * 1000, 2),
                                          "user_id": user.id if user is not None else None})
        return response
