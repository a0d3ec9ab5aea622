"""`/api/v1/deliveries`: one webhook delivery, sent again (its attempts are listed under its webhook)."""
from __future__ import annotations

from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import ApiError, not_found
from api.schemas.common import MessageSchema
from api.services import services
from domain.webhooks import dispatch
from models.delivery import Delivery
from models.webhook import WebhookEndpoint

blp = Blueprint("deliveries", __name__, url_prefix="/api/v1/deliveries", description="Webhook deliveries")


@blp.route("/<delivery_id>/redeliver")
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
