"""`/api/v1/analytics/velocity` and `/api/v1/teams/{id}/sprints`: the points a team planned and completed per
sprint (definitions: `domain.engineering.velocity`, docs/engineering-analytics.md)."""
from __future__ import annotations

from typing import Any

import peewee
from flask import Response
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.caching import figures_response
from api.errors import ApiError, not_found
from api.schemas.velocity import SprintCreateSchema, SprintListSchema, SprintSchema, VelocityArgsSchema, VelocitySchema
from api.services import services
from domain import cache_views
from domain.engineering.velocity import team_sprints, velocity
from models.db import db
from models.organization import Team
from models.sprints import Sprint

blp = Blueprint("velocity", __name__, url_prefix="/api/v1", description="Velocity and sprints")


@blp.route("/analytics/velocity")
class Velocity(MethodView):
    @auth_required()
    @blp.arguments(VelocityArgsSchema, location="query")
    @blp.response(200, VelocitySchema)
    def get(self, args: dict[str, Any]) -> Response:
        """A team's last sprints: planned and completed points, completion rate, average velocity and its trend"""
        team = org_scope.team(args["team_id"])
        return figures_response("velocity", team.organization_id, args,
                                lambda: VelocitySchema().dump(velocity(team.id, args["sprint_count"])))


def _sprint(team: Team, sprint_id: str) -> Sprint:
    """A sprint created for the team, by its id (`sprint-<n>`)."""
    number = sprint_id.removeprefix("sprint-")
    found = Sprint.get_or_none(Sprint.id == int(number), Sprint.team == team.id) \
        if number.isdigit() and len(number) < 10 else None
    if found is None:
        raise not_found("Sprint", sprint_id)
    return found


def _owned_team(team_id: int) -> Team:
    team = org_scope.team(team_id)
    org_scope.owned(team.organization_id)
    return team


@blp.route("/teams/<int:team_id>/sprints")
class TeamSprints(MethodView):
    @auth_required()
    @blp.response(200, SprintListSchema)
    def get(self, team_id: int) -> dict[str, Any]:
        """The team's sprints by start: those created for it and its repositories' dated milestones"""
        team = org_scope.team(team_id)
        return {"team_id": team.id, "items": team_sprints(team.id)}

    @auth_required("engineering:manage")
    @blp.arguments(SprintCreateSchema)
    @blp.response(201, SprintSchema)
    def post(self, body: dict[str, Any], team_id: int) -> Any:
        """Create a sprint for the team (owners): its dates, and the milestone title its issues carry"""
        team = _owned_team(team_id)
        title = body.get("milestone_title", body["name"])
        if any(s.source == "team" and s.key == title.casefold() for s in team_sprints(team.id)):
            raise ApiError(409, f"The team already has a sprint of the milestone {title!r}")
        try:
            with db.atomic():
                sprint = Sprint.create(team=team.id, name=body["name"], start_on=body["start_date"],
                                       end_on=body["end_date"], milestone_title=title)
        except peewee.IntegrityError:
            raise ApiError(409, f"The team already has a sprint named {body['name']!r}") from None
        cache_views.organization_changed(services().redis, team.organization_id)
        return next(s for s in team_sprints(team.id) if s.sprint_id == f"sprint-{sprint.id}")


@blp.route("/teams/<int:team_id>/sprints/<string:sprint_id>")
class TeamSprint(MethodView):
    @auth_required("engineering:manage")
    @blp.response(204)
    def delete(self, team_id: int, sprint_id: str) -> None:
        """Delete a sprint created for the team (owners); a milestone's sprint goes with its milestone"""
        team = _owned_team(team_id)
        _sprint(team, sprint_id).delete_instance()
        cache_views.organization_changed(services().redis, team.organization_id)
