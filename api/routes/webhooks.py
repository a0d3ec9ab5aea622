"""Webhook endpoints: where Conveyor POSTs signed events. Owned by their creator (admins see all)."""
from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from api.audit import audit
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.caching import cached_response
from api.errors import ApiError, not_found
from api.schemas.common import ListArgsSchema, page, page_of
from api.schemas.deliveries import DeliveryListArgsSchema, DeliverySchema, TestSentSchema
from api.schemas.webhooks import WebhookCreatedSchema, WebhookCreateSchema, WebhookSchema, WebhookUpdateSchema
from api.services import services
from api.targets import check_target
from domain import cache_views
from domain.events import emit, publish
from domain.webhooks.signing import new_secret
from models.db import db, utc_naive
from models.delivery import Delivery, DeliveryAttempt
from models.user import User
from models.webhook import WebhookEndpoint

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks", description="Webhook endpoints")


def _visible() -> Any:
    user = current_user()
    query = WebhookEndpoint.select(WebhookEndpoint, User).join(User)
    return query if user.role == "admin" else query.where(WebhookEndpoint.created_by == user.id)


def _get(webhook_id: int) -> WebhookEndpoint:
    endpoint = _visible().where(WebhookEndpoint.id == webhook_id).first()
    if endpoint is None:
        raise not_found("Webhook", webhook_id)
    return endpoint


def _check_target(url: str) -> None:
    check_target(url, services().settings.webhook_allow_private)


def _changed(endpoint: WebhookEndpoint) -> None:
    """The owner's (and admins') webhooks list and dashboard changed."""
    cache_views.changed(services().redis, ("webhooks_list", "dashboard"), endpoint.created_by_id)


def _flatten(body: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in body.items() if k != "retry_policy"}, **body.get("retry_policy", {})}


@blp.route("")
class Webhooks(MethodView):
    @auth_required("webhook:manage")
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, page_of(WebhookSchema))
    def get(self, args: dict[str, int]) -> Response:
        """Your webhook endpoints (all for admins), newest first (cached 2 min; your writes refresh it)"""
        user = current_user()
        return cached_response("webhooks_list", args, lambda: cache_views.webhooks_page(user, **args))

    @auth_required("webhook:manage")
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema)
    def post(self, body: dict[str, Any]) -> WebhookEndpoint:
        """Add an endpoint; its signing secret is in this response only"""
        _check_target(body["url"])
        fields = _flatten(body)
        fields.setdefault("secret", new_secret())
        with db.atomic():
            endpoint = WebhookEndpoint.create(created_by=current_user(), **fields)
        _changed(endpoint)
        return endpoint


@blp.route("/<int:webhook_id>")
class WebhookItem(MethodView):
    @auth_required("webhook:manage")
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id: int) -> WebhookEndpoint:
        """One endpoint, with its last use and failure count"""
        return _get(webhook_id)

    @auth_required("webhook:manage")
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    def put(self, body: dict[str, Any], webhook_id: int) -> WebhookEndpoint:
        """Change an endpoint (the secret stays)"""
        if "url" in body:
            _check_target(body["url"])
        with db.atomic():
            endpoint = _get(webhook_id)
            for field, value in _flatten(body).items():
                setattr(endpoint, field, value)
            endpoint.updated_at = utc_naive()
            endpoint.save()
        _changed(endpoint)
        return endpoint

    @auth_required("webhook:manage")
    @blp.response(204)
    def delete(self, webhook_id: int) -> None:
        """Remove an endpoint"""
        endpoint = _get(webhook_id)
        with db.atomic():
            endpoint.delete_instance()
        _changed(endpoint)


@blp.route("/<int:webhook_id>/rotate-secret")
class WebhookSecret(MethodView):
    @auth_required("webhook:manage")
    @blp.response(200, WebhookCreatedSchema)
    def post(self, webhook_id: int) -> WebhookEndpoint:
        """Replace the endpoint's signing secret; the new one is in this response only, and every delivery
        attempt from now on (retries too) is signed with it"""
        with db.atomic():
            endpoint = _get(webhook_id)
            endpoint.secret = new_secret()
            endpoint.updated_at = utc_naive()
            endpoint.save()
            audit("webhook.secret_rotate", target=("webhook", endpoint.id), details={"name": endpoint.name})
        _changed(endpoint)
        return endpoint


@blp.route("/<int:webhook_id>/test")
class WebhookTest(MethodView):
    @auth_required("webhook:manage")
    @blp.response(202, TestSentSchema)
    def post(self, webhook_id: int) -> dict[str, Any]:
        """Send a `webhook.test` event to this endpoint only, whatever it subscribes to"""
        endpoint = _get(webhook_id)
        if not endpoint.is_active:
            raise ApiError(409, f"Webhook {webhook_id} is disabled; enable it first")
        with db.atomic():
            emitted = emit("webhook.test", {"webhook_id": endpoint.id, "message": "A test event from Conveyor."},
                           owner_id=current_user().id, endpoints=[endpoint])
        publish(services().broker, emitted)
        return {"event_id": emitted.event.id, "deliveries": 1, "delivery_id": emitted.delivery_ids[0]}


@blp.route("/<int:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @auth_required("webhook:manage")
    @blp.arguments(DeliveryListArgsSchema, location="query")
    @blp.response(200, page_of(DeliverySchema))
    def get(self, args: dict[str, Any], webhook_id: int) -> dict[str, Any]:
        """This endpoint's deliveries, newest first, each with every attempt"""
        endpoint = _get(webhook_id)
        query = Delivery.select().where(Delivery.endpoint == endpoint.id)
        if args.get("status"):
            query = query.where(Delivery.status == args["status"])
        result = page(query.order_by(Delivery.created_at.desc(), Delivery.id.desc()), args)
        attempts: dict[str, list[DeliveryAttempt]] = {d.id: [] for d in result["items"]}
        if attempts:
            for attempt in DeliveryAttempt.select().where(DeliveryAttempt.delivery << list(attempts)).order_by(
                    DeliveryAttempt.n):
                attempts[attempt.__data__["delivery"]].append(attempt)
        for delivery in result["items"]:
            delivery.attempt_rows = attempts[delivery.id]
        return result
