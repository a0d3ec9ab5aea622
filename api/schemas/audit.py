"""The audit log as admins read it, and its filters."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.schemas.common import FullMatch, ListArgsSchema, UtcDateTime
from api.schemas.ranges import DayOrMoment

ACTION_FILTER = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.|\.\*)?$"


class AuditArgsSchema(ListArgsSchema):
    actor = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "The actor's username (for a failed login: the username that was tried)."})
    action = ma.fields.String(validate=FullMatch(ACTION_FILTER, error="An action such as `user.create`, or a "
                                                 "prefix ending in `.` such as `auth.`"), metadata={
        "description": "An action (`auth.login`), or every action under a prefix (`auth.` or `auth.*`)."})
    since = DayOrMoment(metadata={"description": "A date or an ISO 8601 date-time (UTC when no offset): entries "
                                                 "at or after it."})
    until = DayOrMoment(end=True, metadata={"description": "A date or an ISO 8601 date-time (UTC when no offset): "
                                                           "entries before it; a bare date includes its whole day."})

    @ma.validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since > until:
            raise ma.ValidationError("since is after until.", "since")


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = UtcDateTime(required=True)
    actor_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: nobody signed in, or the CLI"})
    actor = ma.fields.String(attribute="actor_label", allow_none=True)
    action = ma.fields.String(required=True, metadata={"example": "user.role_change"})
    target_type = ma.fields.String(allow_none=True, metadata={"example": "user"})
    target_id = ma.fields.String(allow_none=True)
    remote_addr = ma.fields.String(allow_none=True)
    user_agent = ma.fields.String(allow_none=True)
    details = ma.fields.Dict(required=True)
