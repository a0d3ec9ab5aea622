"""The application factory: the only place an app is built."""
from __future__ import annotations

import inspect
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, g, request
from flask_smorest import Api

from api import dashboard as dashboard_pages
from api.auth.tokens import TokenConfig
from api.cli import register_cli
from api.docs import assets, document_idempotency, document_server_errors, document_websockets, openapi_config
from api.errors import ErrorSchema, register_error_handlers
from api.http_security import init_cors, init_security_headers
from api.idempotency import init_idempotency
from api.observability import init_metrics
from api.ratelimit import init_rate_limits, limit_hooks, limit_routes, route_limits
from api.routes import (
    admin,
    alerts,
    analyses,
    analytics,
    api_keys,
    audit,
    auth,
    builds,
    cache,
    ci,
    code_quality,
    dashboard,
    deliveries,
    developers,
    events,
    github_auth,
    health,
    kubernetes,
    metrics,
    organizations,
    pipelines,
    projects,
    prometheus,
    pull_analytics,
    repositories,
    repository_hooks,
    teams,
    users,
    velocity,
    webhooks,
)
from api.routing import IdConverter
from api.services import Services
from api.ws import alerts as alerts_ws  # noqa: F401 (declares its route on ws_blp)
from api.ws.hub import StreamHub
from api.ws.routes import SERVER_OPTIONS, ws_blp
from core.logging import configure_logging, request_id_var
from core.settings import Settings, load_settings
from models.db import db
from workers.jobs import warm_cache
from workers.setup import configure as configure_workers

BLUEPRINTS = (health.blp, prometheus.blp, auth.blp, github_auth.blp, users.blp, api_keys.blp, projects.blp,
              builds.blp, analyses.blp, webhooks.blp, events.blp, deliveries.blp, metrics.blp, alerts.rules_blp,
              alerts.alerts_blp, kubernetes.blp, ci.sources_blp, pipelines.blp, analytics.blp, pull_analytics.blp,
              code_quality.blp, cache.blp, dashboard.blp, admin.blp, audit.blp, organizations.blp, teams.blp,
              repositories.blp, repository_hooks.blp, developers.blp, velocity.blp)
log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ConveyorFlask(Flask):
    """Flask asks `inspect.iscoroutinefunction` of each hook and view on every request, a dozen times a
    request; the answer for a function never changes, so it is remembered (for a bounded number of them)."""

    ASYNC_MEMORY = 4096

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_async: dict[Any, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        key = getattr(func, "__func__", func)  # a view's bound method is new on every request; its function is not
        is_async = self._is_async.get(key)
        if is_async is None:
            if len(self._is_async) >= self.ASYNC_MEMORY:
                self._is_async.clear()
            is_async = self._is_async[key] = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_async else func


class ConveyorApi(Api):
    """flask-smorest's Api, documenting our error envelope instead of its own."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"


def _settings(config: Settings | Mapping[str, str] | None) -> Settings:
    if isinstance(config, Settings):
        return config
    if config is None:
        return load_settings()
    return load_settings({**os.environ, **config})


def create_app(config: Settings | Mapping[str, str] | None = None) -> Flask:
    """Build the API. `config` is a Settings, or environment-style overrides for tests."""
    settings = _settings(config)
    configure_logging(settings.log_level)
    app = ConveyorFlask("conveyor", static_folder=None)
    app.url_map.converters["int"] = IdConverter
    app.config.update(openapi_config(settings.api_info), MAX_CONTENT_LENGTH=settings.max_body_bytes,
                      JSON_SORT_KEYS=False, SOCK_SERVER_OPTIONS=SERVER_OPTIONS)
    runtime = configure_workers(settings)
    redis_url = runtime.redis_url
    app.extensions["conveyor"] = Services(
        runtime=runtime, started_at=time.time(),
        tokens=TokenConfig(settings.secret_key, settings.access_token_ttl, settings.refresh_token_ttl),
    )
    _install_request_hooks(app)
    init_idempotency(app, settings, runtime.redis)
    init_cors(app, settings)
    init_security_headers(app, settings)
    init_metrics(app, settings.access_log)
    limiter = init_rate_limits(app, settings, redis_url)
    api = ConveyorApi(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    limit_routes(app, limiter, route_limits(settings))
    limit_hooks(app, limiter, settings.rate_limit_hooks)
    app.register_blueprint(assets)
    app.register_blueprint(dashboard_pages.blp)
    app.register_blueprint(ws_blp)
    document_websockets(api.spec, app)
    document_server_errors(api.spec)
    document_idempotency(api.spec, app)
    app.extensions["stream_hub"] = StreamHub(redis_url)
    register_error_handlers(app)
    register_cli(app)
    if settings.env != "test":
        _warm_on_first_request(app)
    return app


def _warm_on_first_request(app: Flask) -> None:
    """The API warms the cache when it starts serving (its first request, e.g. the readiness probe), so the
    first users do not pay for the misses; the scheduler keeps it warm from then on."""
    started = threading.Event()

    @app.before_request
    def _warm_once() -> None:
        if started.is_set():
            return
        started.set()
        try:
            warm_cache.send_with_options(trigger="api start")
        except Exception:  # the broker is away: the scheduler warms it later
            log.warning("could not ask for a cache warm at start", exc_info=True)


def new_request_id() -> str:
    """32 random hex digits. An id must be unique, not secret: `random` (reseeded in every forked process)
    makes one without the system call, and the switch between request threads, of `uuid4`."""
    return f"{random.getrandbits(128):032x}"


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        sent = request.headers.get("X-Request-ID", "")
        g.request_id = sent if _REQUEST_ID.fullmatch(sent) else new_request_id()
        g.request_id_token = request_id_var.set(g.request_id)

    @app.before_request
    def _bounded_body() -> None:
        # Read (at most MAX_BODY_BYTES of) every write's body before anything else, so that one over the limit
        # is a 413 on every route, also those that never read their body, and before authentication.
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            request.get_data(cache=True)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id") or new_request_id()
        return response

    @app.teardown_request
    def _release(exc: BaseException | None) -> None:
        # Connections open lazily on the first query and go back (to the pool) after every request.
        if not db.is_closed():
            db.close()
        token: Any = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)

