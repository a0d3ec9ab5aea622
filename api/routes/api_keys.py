"""`/api/v1/api-keys`: keys for services and scripts, made and revoked by their owner (admins see and revoke
all, and set a key's rate limit). Only a signed-in session manages keys: a key cannot make or change keys."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.audit import request_origin
from api.auth.guard import auth_required, current_user
from api.auth.permissions import permissions_for
from api.blueprint import Blueprint
from api.errors import ApiError, not_found
from api.schemas.api_keys import (
    ApiKeyCreatedSchema,
    ApiKeyCreateSchema,
    ApiKeyListArgsSchema,
    ApiKeySchema,
    ApiKeyUpdateSchema,
)
from api.schemas.common import page, page_of
from api.services import services
from domain.api_keys import create_key, last_used, revoke_key
from models.api_key import ApiKey
from models.db import db
from models.user import User

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/api-keys", description="API keys for services and scripts")


def _visible() -> Any:
    user = current_user()
    query = ApiKey.select(ApiKey, User).join(User)
    return query if user.role == "admin" else query.where(ApiKey.owner == user.id)


def _get(key_id: int) -> ApiKey:
    key = _visible().where(ApiKey.id == key_id).first()
    if key is None:
        raise not_found("API key", key_id)
    return key


def _shown(keys: list[ApiKey]) -> list[ApiKey]:
    """The keys with their latest use, which may be newer than their rows (domain.api_keys.last_used)."""
    for key, moment in zip(keys, last_used(services().redis, keys).values(), strict=True):
        key.last_used_at = moment
    return keys


@blp.route("")
class ApiKeys(MethodView):
    @auth_required(session_only=True)
    @blp.arguments(ApiKeyListArgsSchema, location="query")
    @blp.response(200, page_of(ApiKeySchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your API keys (admins: everyone's, or one user's with `user_id`), newest first; never the keys"""
        query = _visible()
        if args.get("user_id") is not None:
            query = query.where(ApiKey.owner == args["user_id"])
        result = page(query.order_by(ApiKey.id.desc()), args)
        result["items"] = _shown(result["items"])
        return result

    @auth_required(session_only=True)
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, body: dict[str, Any]) -> ApiKey:
        """Make a key with some of your permissions; the key is in this response only"""
        user = current_user()
        beyond = sorted(set(body["scopes"]) - set(permissions_for(user.role)))
        if beyond:
            raise ApiError(403, f"Your role cannot grant these scopes: {', '.join(beyond)}",
                           details={"scopes": beyond})
        key, secret = create_key(user, body["name"], body["scopes"], body["expires_at"], request_origin())
        key.secret = secret  # type: ignore[attr-defined]  # for this response only
        return key


@blp.route("/<int:key_id>")
class ApiKeyItem(MethodView):
    @auth_required(session_only=True)
    @blp.response(200, ApiKeySchema)
    def get(self, key_id: int) -> ApiKey:
        """One API key, with its last use; never the key"""
        return _shown([_get(key_id)])[0]

    @auth_required(session_only=True)
    @blp.arguments(ApiKeyUpdateSchema)
    @blp.response(200, ApiKeySchema)
    def patch(self, body: dict[str, Any], key_id: int) -> ApiKey:
        """Rename a key; admins also set its rate limit (requests per hour, null for the default)"""
        if "rate_limit" in body and current_user().role != "admin":
            raise ApiError(403, "Only an admin can change a key's rate limit")
        with db.atomic():
            key = _get(key_id)
            for field, value in body.items():
                setattr(key, field, value)
            key.save(only=[getattr(ApiKey, field) for field in body] or [ApiKey.name])
        return _shown([key])[0]

    @auth_required(session_only=True)
    @blp.response(204)
    def delete(self, key_id: int) -> None:
        """Revoke a key: it stops working on the next request, on every API process"""
        revoke_key(_get(key_id), current_user(), request_origin())
