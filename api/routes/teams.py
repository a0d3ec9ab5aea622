"""`/api/v1/teams` (seed 002): teams of developers within an organization, nested (`parent_team_id`, never a
cycle), with an `external_id` for syncing from an HR system or an identity provider."""
from __future__ import annotations

from typing import Any

import peewee
from flask import Response
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.caching import cached_organization_response
from api.errors import ApiError, invalid
from api.schemas.common import page, page_of
from api.schemas.engineering import (
    TeamCreateSchema,
    TeamDetailSchema,
    TeamListArgsSchema,
    TeamMembersSchema,
    TeamSchema,
    TeamUpdateSchema,
)
from api.services import services
from domain import cache_views
from domain.engineering.figures import team_metrics
from models.db import db, utc_naive
from models.developer import Developer, TeamMember
from models.organization import Team

blp = Blueprint("teams", __name__, url_prefix="/api/v1/teams", description="Teams (engineering intelligence)")


def _counted(query: Any) -> Any:
    members = TeamMember.select(peewee.fn.COUNT(TeamMember.developer)).where(TeamMember.team == Team.id)
    return query.select_extend(members.alias("members_count"))


def _parent(org_id: int, team_id: int | None, parent_id: int | None) -> int | None:
    """A valid parent for the team: in the same organization, and not the team itself or one of its own."""
    if parent_id is None:
        return None
    parent = Team.get_or_none(Team.id == parent_id, Team.organization == org_id)
    if parent is None:
        raise invalid("parent_team_id", "Must be a team of the same organization.")
    ancestor: Team | None = parent
    while ancestor is not None:
        if team_id is not None and ancestor.id == team_id:
            raise invalid("parent_team_id", "A team cannot be inside itself (that would be a cycle).")
        ancestor = Team.get_or_none(Team.id == ancestor.parent_id) if ancestor.parent_id else None
    return parent.id


def _detail(team: Team) -> dict[str, Any]:
    members = (Developer.select().join(TeamMember).where(TeamMember.team == team.id).order_by(Developer.name))
    return {**team.__data__, "organization_id": team.organization_id, "parent_id": team.parent_id,
            "members": list(members),
            "members_count": members.count(), "metrics": team_metrics(team.id)}


def _saved(team: Team) -> Team:
    try:
        with db.atomic():
            team.save()
    except peewee.IntegrityError:
        raise ApiError(409, f"The organization already has a team with external_id {team.external_id!r}") from None
    return team


@blp.route("")
class Teams(MethodView):
    @auth_required()
    @blp.arguments(TeamListArgsSchema, location="query")
    @blp.response(200, page_of(TeamSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Teams of your organizations, by name (`organization_id` narrows to one)"""
        query = org_scope.scoped(Team.select(), Team.organization)
        if "organization_id" in args:
            query = query.where(Team.organization == args["organization_id"])
        return page(_counted(query.order_by(Team.name, Team.id)), args)

    @auth_required("engineering:manage")
    @blp.arguments(TeamCreateSchema)
    @blp.response(201, TeamDetailSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a team in an organization you own"""
        org = org_scope.organization(body["organization_id"])
        org_scope.owned(org.id)
        parent = _parent(org.id, None, body.pop("parent_team_id", None))
        team = _saved(Team(organization=org.id, parent=parent, **{k: v for k, v in body.items()
                                                                   if k != "organization_id"}))
        return _detail(team)


@blp.route("/<int:team_id>")
class TeamItem(MethodView):
    @auth_required()
    @blp.response(200, TeamDetailSchema)
    def get(self, team_id: int) -> Response:
        """A team with its members and their figures of the last 30 days (cached 30 min for the organization;
        its writes and new activity refresh it)"""
        team = org_scope.team(team_id)
        return cached_organization_response("team", team.organization_id, {"id": team.id},
                                            lambda: TeamDetailSchema().dump(_detail(team)))

    @auth_required("engineering:manage")
    @blp.arguments(TeamUpdateSchema)
    @blp.response(200, TeamDetailSchema)
    def put(self, body: dict[str, Any], team_id: int) -> dict[str, Any]:
        """Change a team's name, description, parent or external id (owners)"""
        team = org_scope.team(team_id)
        org_scope.owned(team.organization_id)
        if "parent_team_id" in body:
            team.parent = _parent(team.organization_id, team.id, body.pop("parent_team_id"))
        for field, value in body.items():
            setattr(team, field, value)
        team.updated_at = utc_naive()
        _saved(team)
        cache_views.organization_changed(services().redis, team.organization_id)
        return _detail(team)

    @auth_required("engineering:manage")
    @blp.response(204)
    def delete(self, team_id: int) -> None:
        """Delete a team (owners); its sub-teams move up to its parent, its repositories keep no team"""
        team = org_scope.team(team_id)
        org_scope.owned(team.organization_id)
        with db.atomic():
            Team.update(parent=team.parent_id).where(Team.parent == team.id).execute()
            team.delete_instance()
        cache_views.organization_changed(services().redis, team.organization_id)


@blp.route("/<int:team_id>/members")
class TeamMembers(MethodView):
    @auth_required("engineering:manage")
    @blp.arguments(TeamMembersSchema)
    @blp.response(200, TeamDetailSchema)
    def put(self, body: dict[str, Any], team_id: int) -> dict[str, Any]:
        """Set a team's developers in one call (owners); each must be a developer of the team's organization"""
        team = org_scope.team(team_id)
        org_scope.owned(team.organization_id)
        wanted = set(body["developer_ids"])
        found = {d.id for d in Developer.select(Developer.id).where(
            Developer.id << list(wanted), Developer.organization == team.organization_id)} if wanted else set()
        if wanted - found:
            raise invalid("developer_ids", "Not developers of this organization: "
                                    f"{', '.join(map(str, sorted(wanted - found)))}.")
        with db.atomic():
            TeamMember.delete().where(TeamMember.team == team.id).execute()
            if wanted:
                TeamMember.insert_many([{"team": team.id, "developer": d} for d in sorted(wanted)]).execute()
        cache_views.organization_changed(services().redis, team.organization_id)
        return _detail(team)
