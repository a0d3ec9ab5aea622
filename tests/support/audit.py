"""Helpers of the audit log tests: the entries stored, read straight from the table."""
from __future__ import annotations

from typing import Any

from models.audit import AuditEntry
from models.db import db

AUDIT = "/api/v1/admin/audit"


def entries(action: str | None = None) -> list[dict[str, Any]]:
    """The stored entries (of one action), oldest first, as dicts of their columns."""
    with db.connection_context():
        query = AuditEntry.select().order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return [dict(row.__data__) for row in query]


def only_entry(action: str) -> dict[str, Any]:
    """The one entry of `action`; fails when there are none or several."""
    found = entries(action)
    assert len(found) == 1, found
    return found[0]
