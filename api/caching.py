"""A route's answer from the read cache (`core.cache`), per user: never another user's."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from api.auth.guard import current_user
from api.services import services
from core import cache


def cached_organization_response(entry: str, organization_id: int, query: dict[str, Any] | None,
                                  build: Callable[[], Any]) -> Response:
    """An organization's view of `entry`, shared by its members: the caller must have been found to see it."""
    svc = services()
    text = cache.cached_json(svc.redis, entry, cache.organization_scope(organization_id), query, build,
                             svc.settings.cache_ttls[entry])
    return Response(text, mimetype="application/json")


def fresh_response(build: Callable[[], Any]) -> Response:
    """What the cached responses answer, computed now: `build` returns the body already dumped by its schema, so
    it is not dumped twice (the route's `@blp.response` passes a Response through)."""
    return Response(cache.dumps(build()), mimetype="application/json")


def figures_response(view: str, organization_id: int | None, args: dict[str, Any],
                     build: Callable[[], Any]) -> Response:
    """An engineering figure (`view`): one organization's is shared by its members and cached (`engineering_figures`,
    keyed by the view and the arguments); across organizations (`organization_id` None), computed each time."""
    if organization_id is None:
        return fresh_response(build)
    return cached_organization_response("engineering_figures", organization_id, {**args, "view": view}, build)


def cached_response(entry: str, query: dict[str, Any] | None, build: Callable[[], Any]) -> Response:
    """The caller's view of `entry`, from the cache when it is there (per user: never another user's)."""
    user = current_user()
    svc = services()
    text = cache.cached_json(svc.redis, entry, cache.user_scope(user.id), query, build, svc.settings.cache_ttls[entry])
    return Response(text, mimetype="application/json")
