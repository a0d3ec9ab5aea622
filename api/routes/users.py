"""Users: yourself, and (for admins) everyone."""
from __future__ import annotations

from typing import Any

import peewee
from flask.views import MethodView

from api.audit import audit, request_origin
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import ApiError, invalid, not_found
from api.rate_tiers import tier_names, user_tiers
from api.routes.github_auth import account_errors
from api.schemas.common import ListArgsSchema, page, page_of
from api.schemas.users import ProfileUpdateSchema, UserCreateSchema, UserSchema, UserUpdateSchema
from api.services import services
from core import cache
from core.settings import STANDARD_TIER
from domain import cache_views
from domain.github_sign_in import accounts
from models.db import db, is_postgres, utc_naive
from models.user import User, new_stamp

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users and roles")


def _get(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise not_found("User", user_id)
    return user


def _stored_tier(body: dict[str, Any]) -> None:
    """A tier named in the body as the user row keeps it (None for standard); 422 when it is not configured."""
    if "rate_limit_tier" not in body:
        return
    names = tier_names(services().settings)
    if body["rate_limit_tier"] not in names:
        raise invalid("rate_limit_tier", f"Must be one of: {', '.join(names)}.")
    body["rate_limit_tier"] = None if body["rate_limit_tier"] == STANDARD_TIER else body["rate_limit_tier"]


def _keeps_an_admin(user: User, changes: dict[str, Any]) -> bool:
    """False when the change would leave no active admin."""
    losing = user.role == "admin" and user.is_active and (
        changes.get("role", "admin") != "admin" or changes.get("is_active", True) is False)
    if not losing:
        return True
    # Lock the active admins (PostgreSQL) so two concurrent demotions cannot both pass this check.
    admins = User.select(User.id).where(User.role == "admin", User.is_active == True)  # noqa: E712
    return len(list(admins.for_update() if is_postgres() else admins)) > 1


def _email_change(user: User, body: dict[str, Any]) -> None:
    """A new email must be nobody else's (409) and, on an account with a password, come with that password:
    missing 422, wrong 403 (not 401, which would say the token is bad)."""
    email = body.get("email")
    if "email" not in body or (email or "").lower() == (user.email or "").lower():
        return
    if user.has_password:
        if "current_password" not in body:
            raise invalid("current_password", "Required to change the email of an account with a password.")
        if not user.check_password(body["current_password"]):
            raise ApiError(403, "The current password is wrong")
    if email is not None and User.by_email(email).where(User.id != user.id).exists():
        raise ApiError(409, "Another account has this email")


@blp.route("/me")
class Me(MethodView):
    @auth_required()
    @blp.response(200, UserSchema)
    def get(self) -> User:
        """The user behind the token"""
        return current_user()

    @auth_required(session_only=True)  # a leaked key must not move the account's email
    @blp.arguments(ProfileUpdateSchema)
    @blp.response(200, UserSchema)
    def put(self, body: dict[str, Any]) -> User:
        """Change your name or email (an account with a password confirms a new email with it)"""
        with db.atomic():
            user = _get(current_user().id)
            _email_change(user, body)
            body.pop("current_password", None)
            for field, value in body.items():
                setattr(user, field, value)
            user.updated_at = utc_naive()
            user.save()
        return user


@blp.route("")
class Users(MethodView):
    @auth_required("admin")
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, page_of(UserSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """List users, newest first (admin)"""
        return page(User.select().order_by(User.id.desc()), args)

    @auth_required("admin", session_only=True)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> User:
        """Create a user (admin); a taken username answers 409"""
        _stored_tier(body)
        user = User(username=body["username"], email=body["email"], role=body["role"],
                    rate_limit_tier=body.get("rate_limit_tier"))
        user.set_password(body["password"])
        try:
            with db.atomic():
                user.save()
                audit("user.create", target=("user", user.id), details={"username": user.username, "role": user.role})
        except peewee.IntegrityError:
            raise ApiError(409, f"Username {body['username']!r} is taken") from None
        return user


@blp.route("/<int:user_id>")
class UserItem(MethodView):
    @auth_required("admin")
    @blp.response(200, UserSchema)
    def get(self, user_id: int) -> User:
        """One user (admin)"""
        return _get(user_id)

    @auth_required("admin", session_only=True)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def put(self, body: dict[str, Any], user_id: int) -> User:
        """Change a user's role, email, password, active flag or rate-limit tier (admin)"""
        _stored_tier(body)
        with db.atomic():
            user = _get(user_id)
            if not _keeps_an_admin(user, body):
                raise ApiError(409, "That would leave no active admin")
            if body.get("role", user.role) != user.role:
                audit("user.role_change", target=("user", user.id),
                      details={"username": user.username, "from_role": user.role, "to_role": body["role"]})
            password = body.pop("password", None)
            if password is not None:
                user.set_password(password)
            for field, value in body.items():
                setattr(user, field, value)
            if body.get("is_active") is False:
                user.token_stamp = new_stamp()  # deactivation ends every session at once
            user.updated_at = utc_naive()
            user.save()
        user_tiers().forget(user.id)  # this process applies a new tier at once, the others within their cache's time
        return user

    @auth_required("admin", session_only=True)
    @blp.response(204)
    def delete(self, user_id: int) -> None:
        """Delete a user (admin); the last admin cannot be deleted"""
        with db.atomic():
            user = _get(user_id)
            if not _keeps_an_admin(user, {"is_active": False}):
                raise ApiError(409, "That would leave no active admin")
            user.delete_instance()
            audit("user.delete", target=("user", user_id), details={"username": user.username, "role": user.role})
        # What went with the user (their webhooks and rules; their rules' alerts lose their rule) was in cached
        # views that others see too: the admins' lists, every list of rule alerts.
        cache_views.changed(services().redis, tuple(cache.ENTRIES), None)


@blp.route("/<int:user_id>/github")
class UserGitHub(MethodView):
    @auth_required("admin", session_only=True)
    @blp.response(200, UserSchema)
    def delete(self, user_id: int) -> User:
        """Unlink a user's GitHub account (admin), also one without a password: give it one afterwards"""
        with account_errors():
            return accounts.unlink(_get(user_id), request_origin(), admin=current_user())
