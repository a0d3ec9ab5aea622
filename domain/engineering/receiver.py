"""Hook deliveries in: a checked delivery is stored with its outbox row in one transaction and ingested by a
worker (`workers.engineering.ingest_hook`), so a crash after the answer loses nothing; a delivery id seen
before stores nothing (replays, and the provider's own redeliveries)."""
from __future__ import annotations

from typing import Any

import peewee

from domain import outbox
from domain.engineering.hooks import github_activity, gitlab_activity
from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, PayloadError
from models.activity import HookDelivery
from models.db import db, utc_naive
from models.outbox import OutboxMessage
from models.repository import Repository


def activity_of(provider: str, event: str, payload: Any) -> Activity | None:
    """What a delivery carries; None for an event not read; PayloadError for a malformed body."""
    return github_activity(event, payload) if provider == "github" else gitlab_activity(payload)


def receive(repo: Repository, delivery_id: str, event: str, payload: Any,
            actor: outbox.Sender) -> tuple[HookDelivery, OutboxMessage] | None:
    """Store the delivery and its outbox row; None when this delivery id was stored before."""
    try:
        with db.atomic():
            delivery = HookDelivery.create(repository=repo.id, delivery_id=delivery_id, event=event, payload=payload)
            message = outbox.add(actor, delivery.id)
    except peewee.IntegrityError:
        return None
    return delivery, message


def process(delivery_id: int, bot_logins: tuple[str, ...]) -> dict[str, Any]:
    """Ingest one stored delivery (idempotent: a second run stores nothing new)."""
    delivery = HookDelivery.get_or_none(HookDelivery.id == delivery_id)
    if delivery is None:
        return {"skipped": "no such delivery"}
    if delivery.status == "done":
        return {"skipped": "already ingested"}
    repo = Repository.get_or_none(Repository.id == delivery.repository_id)
    if repo is None:
        return {"skipped": "the repository is gone"}
    provider = repo.provider
    try:
        activity = activity_of(provider, delivery.event, delivery.payload)
    except PayloadError as error:  # checked when received: only a stored body changed since could fail here
        HookDelivery.update(status="failed", error=str(error), processed_at=utc_naive()).where(
            HookDelivery.id == delivery.id).execute()
        return {"failed": str(error)}
    outcome = ingest(repo, activity or Activity(), bot_logins)
    HookDelivery.update(status="done", outcome=outcome, processed_at=utc_naive()).where(
        HookDelivery.id == delivery.id).execute()
    return {**outcome, "organization_id": repo.organization_id}
