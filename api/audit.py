"""`audit(...)`: the API's way to call `domain.audit.record` for the request being served, with who made it (the
signed-in user unless told otherwise) and where it came from (its client's address and user agent)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, has_request_context, request

from domain.audit import Origin, record
from models.audit import AuditEntry
from models.user import User

NOBODY = object()  # `actor=NOBODY`: no signed-in user (a failed login); the label says who was tried


def request_origin() -> Origin:
    """The client's address and user agent. `request.remote_addr` is the address as the proxy settings give it
    (the peer's own, as long as the API trusts no forwarding header; the rate limits key on the same)."""
    if not has_request_context():
        return Origin()
    return Origin(request.remote_addr, request.headers.get("User-Agent"))


def audit(action: str, *, target: tuple[str, object] | None = None, details: Mapping[str, Any] | None = None,
          actor: User | object | None = None, label: str | None = None) -> AuditEntry:
    """Record `action` for this request, inside the caller's transaction (see `domain.audit.record`). The actor
    is `actor`, else the signed-in user; `actor=NOBODY` with `label` for an attempt by someone unknown."""
    who = None if actor is NOBODY else actor if isinstance(actor, User) else g.get("user")
    return record(action, actor_id=who.id if who is not None else None,
                  actor_label=label or (who.username if who is not None else None),
                  target=target, origin=request_origin(), details=details)
