"""Rate limits with flask-limiter on Redis.

Each route counts apart (flask-limiter's default limits): per user when a valid token is sent (at their tier's
limit), else per client IP (RATE_LIMIT_ANONYMOUS). A request that presents an API key is counted instead in one
bucket across all routes: the key's (RATE_LIMIT_API_KEY, or the limit an admin gave it), or, for a key that is
no usable key, its address's, so guessing keys is held back whichever routes the guesses try."""
from __future__ import annotations

from typing import Any

import peewee
from flask import Flask, g, request
from flask_limiter import Limit, Limiter

from api.auth.credentials import bearer_token, presented_key, request_key
from api.auth.tokens import verify
from api.errors import ApiError
from api.rate_tiers import install, tier_limit, user_tiers
from api.services import services
from core.settings import Settings
from models.api_key import ApiKey
from models.db import db

UNLIMITED_PREFIXES = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json")


def key_limit(settings: Settings, key: ApiKey) -> str:
    """An API key's limit: the one an admin gave it (per hour), else RATE_LIMIT_API_KEY."""
    return f"{key.rate_limit}/hour" if key.rate_limit else settings.rate_limit_api_key


def _usable_key() -> ApiKey | None:
    """The request's API key, looked up for the guard too. The connection goes back to the pool at once: a
    WebSocket's request lasts as long as the socket."""
    was_closed = db.is_closed()
    try:
        return request_key()
    except peewee.PeeweeException:  # the guard meets the same error and answers for it
        return None
    finally:
        if was_closed:
            db.close()


def rate_key() -> str:
    """The limit's bucket: the API key when it is usable, the token's subject when its signature checks out,
    else the remote address."""
    if "rate_key" not in g:
        g.rate_key, g.rate_user, g.rate_limit = f"ip:{request.remote_addr}", None, None
        if presented_key() is not None:
            key = _usable_key()
            if key is not None:
                g.rate_key, g.rate_limit = f"key:{key.id}", key_limit(services().settings, key)
            return str(g.rate_key)
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


def _limit_by_key() -> str:
    """The limit of a request that presents an API key: the key's, or its address's anonymous limit."""
    rate_key()
    return str(g.rate_limit or services().settings.rate_limit_anonymous)


def _not_by_key() -> bool:
    return _exempt() or presented_key() is None


def _by_key() -> bool:
    return _exempt() or presented_key() is not None


def redis_storage_uri(redis_url: str) -> str:
    return "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url


def init_rate_limits(app: Flask, settings: Settings, redis_url: str) -> Limiter:
    limiter = Limiter(
        rate_key,
        # Two defaults, one exempt where the other applies: per route by user or address; or, for a request
        # that presents an API key, one bucket across routes ("shared": its scope leaves out the endpoint).
        default_limits=[Limit(_default_limit, exempt_when=_by_key),
                        Limit(_limit_by_key, scope="api-key", shared=True, exempt_when=_not_by_key)],
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
            ("users.Users", "GET"): settings.rate_limit_users_list,
            ("auth.Login", "POST"): settings.rate_limit_login}  # per address: password guessing


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
