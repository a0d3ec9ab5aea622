"""`GET /api/v1/admin/audit`: the audit log (seed 002), for admins: who did what, when and from where."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.schemas.audit import AuditArgsSchema, AuditEntrySchema
from api.schemas.common import page, page_of
from models.audit import AuditEntry

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin/audit", description="The audit log (admin only)")


def _filtered(args: dict[str, Any]) -> Any:
    query = AuditEntry.select()
    if "actor" in args:
        query = query.where(AuditEntry.actor_label == args["actor"])
    action = args.get("action")
    if action and action.endswith((".", ".*")):
        query = query.where(AuditEntry.action.startswith(action.removesuffix("*")))
    elif action:
        query = query.where(AuditEntry.action == action)
    if "since" in args:
        query = query.where(AuditEntry.at >= args["since"])  # naive UTC, as the rows keep it
    if "until" in args:
        query = query.where(AuditEntry.at < args["until"])
    return query


@blp.route("")
class AuditLog(MethodView):
    @auth_required("admin")
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, page_of(AuditEntrySchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The audit log, newest first (admin); filter by `actor`, `action` (or a prefix such as `auth.`),
        `since` and `until`"""
        return page(_filtered(args).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), args)
