"""Publish events to webhooks, and redeliver a delivery."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.schemas.deliveries import EventCreateSchema, EventPublishedSchema
from api.services import services
from domain.events import emit, publish
from models.db import db

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Events")


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
