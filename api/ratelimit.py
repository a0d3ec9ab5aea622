"""Rate limits with flask-limiter on Redis: per user when a valid token is sent (at their tier's limit), else
per client IP."""
from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask_limiter import Limiter

from api.auth.guard import bearer_token
from api.auth.tokens import verify
from api.errors import ApiError
from api.rate_tiers import install, tier_limit, user_tiers
from api.services import services
from core.settings import Settings

UNLIMITED_PREFIXES = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json")


def rate_key() -> str:
    """The limit's bucket: the token's subject when its signature checks out, else the remote address."""
    if "rate_key" not in g:
        g.rate_key, g.rate_user = f"ip:{request.remote_addr}", None
        token = bearer_token()
        if token:
            try:  # verified once per token, then remembered (the guard checks revocation and the user)
                claims = verify(services().tokens, token)
                g.rate_key, g.rate_user = f"user:{claims['sub']}", int(claims["uid"])
            except (ApiError, KeyError, TypeError, ValueError):
                pass
    return str(g.rate_key)


def _default_limit() -> str:
    settings = services().settings
    rate_key()
    if g.rate_user is None:
        return settings.rate_limit_anonymous
    return tier_limit(settings, user_tiers().tier_of(g.rate_user))


def _exempt() -> bool:
    return (request.method == "OPTIONS" or request.path.startswith(UNLIMITED_PREFIXES)
            or request.blueprint == "ui")  # the dashboard's pages and assets


def redis_storage_uri(redis_url: str) -> str:
    return "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url


def init_rate_limits(app: Flask, settings: Settings, redis_url: str) -> Limiter:
    limiter = Limiter(
        rate_key,
        default_limits=[_default_limit],
        default_limits_exempt_when=_exempt,
        storage_uri=redis_storage_uri(redis_url),
        storage_options={"socket_connect_timeout": 2, "socket_timeout": 2},
        strategy="moving-window",
        headers_enabled=True,
        enabled=settings.rate_limits_enabled,
        swallow_errors=True,  # a Redis outage must not turn every request into a 500
        key_prefix="conveyor:ratelimit",
    )
    limiter.init_app(app)
    install(app)
    # A disabled Limiter is not kept by the app, yet the route limits' wrappers hold it weakly: keep it here.
    app.extensions["conveyor_limiter"] = limiter
    return limiter


def route_limits(settings: Settings) -> dict[tuple[str, str], str]:
    """The routes with a limit of their own, `(endpoint, method) -> "10/minute"`, on top of every tier's."""
    return {("builds.Builds", "POST"): settings.rate_limit_builds,
            ("analyses.Analyses", "POST"): settings.rate_limit_analyses,
            ("users.Users", "GET"): settings.rate_limit_users_list}


HOOK_ENDPOINTS = ("repository_hooks.GitHubHook", "repository_hooks.GitLabHook")


def hook_key() -> str:
    return f"hook:{request.path}"


def limit_hooks(app: Flask, limiter: Limiter, limit: str) -> None:
    """The hooks GitHub and GitLab call are limited per repository (`RATE_LIMIT_HOOKS`), not per address: a
    provider sends every customer's deliveries from a few shared addresses, which a per-address limit would
    throttle together. They take no token, so no user's limit applies either."""
    for endpoint in HOOK_ENDPOINTS:
        limited: Any = limiter.limit(limit, key_func=hook_key, override_defaults=True)(app.view_functions[endpoint])
        app.view_functions[endpoint] = limited


def limit_routes(app: Flask, limiter: Limiter, limits: dict[tuple[str, str], str]) -> None:
    """Tighter limits (per user) on some routes, on top of the default: `(endpoint, method) -> "10/minute"`.

    flask-limiter checks a decorated limit in the decorator's wrapper, and leaves a decorated view out of its
    before-request check: the wrapper must be what the app calls, or the view has no limit at all."""
    for (endpoint, method), limit in limits.items():
        limited: Any = limiter.limit(limit, methods=[method], key_func=rate_key,
                                     override_defaults=False)(app.view_functions[endpoint])
        app.view_functions[endpoint] = limited
