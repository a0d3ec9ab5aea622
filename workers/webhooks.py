"""`deliver_webhook`: one attempt of one webhook delivery (the attempt itself is `domain.webhooks.attempt`)."""
from __future__ import annotations

from core.runtime import Runtime
from domain.webhooks import attempt
from workers.registry import actor


@actor(queue_name="webhooks", max_retries=0, time_limit=180_000)
def deliver_webhook(rt: Runtime, delivery_id: str) -> None:
    """Attempt one delivery; a duplicate message, or one for a row not yet due, does nothing."""
    attempt.deliver(rt, delivery_id)
