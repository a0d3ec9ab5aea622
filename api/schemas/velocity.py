"""Arguments and answers of velocity (`/analytics/velocity`) and of a team's sprints (`/teams/{id}/sprints`)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma

from api.schemas.common import FullMatch, StrictSchema, row_id

MAX_SPRINT = timedelta(days=92)  # a quarter: longer is a release plan, not a sprint
# A title as people type it: no control characters, no spaces at either end (a milestone's title is matched
# without regard to case).
TITLE = (ma.validate.Length(min=1, max=255),
         FullMatch(r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$",
                   error="Not blank, without control characters or spaces at either end."))


class VelocityArgsSchema(StrictSchema):
    team_id = row_id(required=True)
    sprint_count = ma.fields.Integer(load_default=6, validate=ma.validate.Range(min=1, max=52))


class SprintFiguresSchema(ma.Schema):
    sprint_id, name, source, milestone_title, state = (ma.fields.String() for _ in range(5))
    start_date, end_date = ma.fields.Date(), ma.fields.Date(metadata={"description": "The sprint's last day"})
    planned_points = ma.fields.Integer(metadata={
        "description": "Points of the open issues in the sprint at the end of its first day"})
    completed_points = ma.fields.Integer(metadata={"description": "Points of the issues closed in it while in it"})
    velocity = ma.fields.Integer()
    completion_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "Completed over planned points; null when nothing was planned"})
    planned_issues, completed_issues = ma.fields.Integer(), ma.fields.Integer()


class VelocitySchema(ma.Schema):
    team_id = ma.fields.Integer()
    sprints = ma.fields.List(ma.fields.Nested(SprintFiguresSchema))
    average_velocity = ma.fields.Float(metadata={"description": "Mean velocity of the ended sprints listed"})
    trend = ma.fields.String(metadata={"description": "increasing, decreasing or stable: the later half of the "
                                                      "ended sprints against the earlier half; no_data under two"})
    no_data = ma.fields.Boolean()


class SprintCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=TITLE)
    start_date = ma.fields.Date(required=True)
    end_date = ma.fields.Date(required=True, metadata={"description": "The sprint's last day"})
    milestone_title = ma.fields.String(validate=TITLE, metadata={
        "description": "The milestone (or iteration) its issues carry, in any of the team's repositories; "
                       "default: the sprint's name"})

    @ma.validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None and not start <= end < start + MAX_SPRINT:
            raise ma.ValidationError("end_date must be on or after start_date, and at most 92 days from it.",
                                     "end_date")


class SprintSchema(ma.Schema):
    sprint_id, name, source, milestone_title = (ma.fields.String() for _ in range(4))
    start_date, end_date = ma.fields.Date(attribute="start"), ma.fields.Date(attribute="end")


class SprintListSchema(ma.Schema):
    team_id = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(SprintSchema))
