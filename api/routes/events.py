"""Publish events to webhooks, and redeliver a delivery."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import ApiError, not_found
from api.schemas.common import MessageSchema
from api.schemas.deliveries import EventCreateSchema, EventPublishedSchema
from api.services import services
from domain.events import emit, publish
from domain.webhooks import dispatch
from models.db import db
from models.delivery import Delivery
from models.webhook import WebhookEndpoint

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Events and webhook deliveries")


@blp.route("/events")
class Events(MethodView):
    @auth_required("webhook:manage")
    @blp.arguments(EventCreateSchema)
    @blp.response(202, EventPublishedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Publish an event to every endpoint of yours subscribed to its type"""
        with db.atomic():
            emitted = emit(body["type"], body["data"], owner_id=current_user().id, include_admins=False)
        publish(services().broker, emitted)
        return {"event_id": emitted.event.id, "deliveries": len(emitted.delivery_ids)}


@blp.route("/deliveries/<delivery_id>/redeliver")
class Redeliver(MethodView):
    @auth_required("webhook:manage")
    @blp.response(202, MessageSchema)
    def post(self, delivery_id: str) -> dict[str, str]:
        """Send a delivery again now, with the same `webhook-id` (receivers deduplicate on it)"""
        user = current_user()
        query = Delivery.select(Delivery, WebhookEndpoint).join(WebhookEndpoint).where(Delivery.id == delivery_id)
        delivery = (query if user.role == "admin" else query.where(WebhookEndpoint.created_by == user.id)).first()
        if delivery is None:
            raise not_found("Delivery", delivery_id)
        if not delivery.endpoint.is_active:
            raise ApiError(409, f"Webhook {delivery.endpoint.id} is disabled; enable it first")
        if not Delivery.redeliver(delivery_id):
            raise ApiError(409, f"Delivery {delivery_id} is already in progress ({delivery.status})")
        dispatch.publish(services().broker, [delivery_id])
        return {"message": f"Delivery {delivery_id} queued again"}
