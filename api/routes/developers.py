"""`/api/v1/developers` (seed 002): the people behind the activity, with their figures of the last 30 days,
their identities, and an activity timeline; owners merge and split identities when the automatic rules
(docs/engineering.md) got a person wrong."""
from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.caching import cached_organization_response, fresh_response
from api.errors import invalid
from api.schemas.common import page, page_of
from api.schemas.engineering import (
    ActivityArgsSchema,
    DeveloperActivitySchema,
    DeveloperDetailSchema,
    DeveloperListArgsSchema,
    DeveloperSchema,
    MergeSchema,
    SplitSchema,
)
from api.services import services
from core.timeutil import isoformat
from domain import cache_views
from domain.engineering import identities
from domain.engineering.figures import developer_metrics
from domain.engineering.timeline import timeline
from models.db import id_list
from models.developer import Developer, DeveloperIdentity, IdentityChange, IdentityEmail, TeamMember
from models.organization import Team

blp = Blueprint("developers", __name__, url_prefix="/api/v1/developers",
                description="Developers, their identities and activity (engineering intelligence)")


def _figures(developer_ids: list[int]) -> list[dict[str, Any]]:
    """Each developer's figures and first team, in the order given."""
    figures = developer_metrics(developer_ids, within=id_list(developer_ids))
    teams: dict[int, int] = {}
    if developer_ids:
        memberships: Any = (TeamMember.select(TeamMember.team, TeamMember.developer)
                            .where(TeamMember.developer << id_list(developer_ids)).order_by(TeamMember.team).tuples())
        for team_id, developer_id in memberships:
            teams.setdefault(developer_id, team_id)
    return [{"metrics": figures[i], "team_id": teams.get(i)} for i in developer_ids]


# What a list shows of each developer: read as plain rows (no model, no times parsed that are not shown).
LISTED = (Developer.id, Developer.name, Developer.email, Developer.organization.alias("organization_id"),
          Developer.is_bot)


def _shown(developer: Developer) -> dict[str, Any]:
    """The detail: identities (with their emails), teams, figures, and the merges and splits that shaped it."""
    vars(developer).update(_figures([developer.id])[0])  # shown, not stored
    emails: dict[int, list[str]] = {}
    for row in IdentityEmail.select().join(DeveloperIdentity).where(DeveloperIdentity.developer == developer.id):
        emails.setdefault(row.identity_id, []).append(row.email)
    changes = IdentityChange.select().where(
        (IdentityChange.from_developer_id == developer.id) | (IdentityChange.to_developer_id == developer.id))
    return {**developer.__data__, **vars(developer), "organization_id": developer.organization_id,
            "identities": [{**i.__data__, "emails": sorted(emails.get(i.id, []))}
                           for i in developer.identities.order_by(DeveloperIdentity.id)],
            "teams": [{"id": t.id, "name": t.name}
                      for t in Team.select().join(TeamMember).where(TeamMember.developer == developer.id)],
            "changes": [{"action": c.action, "from_developer_id": c.from_developer_id,
                         "to_developer_id": c.to_developer_id, "identity_ids": c.identity_ids, "reason": c.reason,
                         "at": isoformat(c.created_at)} for c in changes.order_by(IdentityChange.id.desc()).limit(50)]}


@blp.route("")
class Developers(MethodView):
    @auth_required()
    @blp.arguments(DeveloperListArgsSchema, location="query")
    @blp.response(200, page_of(DeveloperSchema))
    def get(self, args: dict[str, Any]) -> Response | dict[str, Any]:
        """Developers of your organizations, by name, with their figures of the last 30 days; bots are left out
        unless `include_bots=true`; `team_id` and `organization_id` narrow the list (one organization's list
        is cached 5 min; its writes and new activity refresh it)"""
        query = org_scope.scoped(Developer.select(), Developer.organization)
        if not args["include_bots"]:
            query = query.where(Developer.is_bot == False)  # noqa: E712
        if "organization_id" in args:
            query = query.where(Developer.organization == args["organization_id"])
        if "team_id" in args:
            query = query.where(Developer.id << TeamMember.select(TeamMember.developer).where(
                TeamMember.team == args["team_id"]))
        def build() -> dict[str, Any]:
            listed = page(query.select(*LISTED).order_by(Developer.name, Developer.id).dicts(), args)
            rows = listed["items"]
            items = [{**row, **shown} for row, shown in zip(rows, _figures([r["id"] for r in rows]), strict=True)]
            return page_of(DeveloperSchema)().dump({**listed, "items": items})

        if "organization_id" in args:  # one organization's figures: shared by its members (cached 5 min)
            org = org_scope.organization(args["organization_id"])
            return cached_organization_response("engineering_figures", org.id, args, build)
        return fresh_response(build)


@blp.route("/<int:developer_id>")
class DeveloperItem(MethodView):
    @auth_required()
    @blp.response(200, DeveloperDetailSchema)
    def get(self, developer_id: int) -> dict[str, Any]:
        """A developer with their identities, teams, figures, and the merges and splits that shaped them"""
        return _shown(org_scope.developer(developer_id))


@blp.route("/<int:developer_id>/activity")
class Activity(MethodView):
    @auth_required()
    @blp.arguments(ActivityArgsSchema, location="query")
    @blp.response(200, page_of(DeveloperActivitySchema))
    def get(self, args: dict[str, Any], developer_id: int) -> dict[str, Any]:
        """A developer's timeline, newest first: commits, pull requests opened and merged, reviews"""
        developer = org_scope.developer(developer_id)
        items, total = timeline(developer.id, args["limit"], args["offset"])
        return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}


@blp.route("/<int:developer_id>/merge")
class Merge(MethodView):
    @auth_required("engineering:manage")
    @blp.arguments(MergeSchema)
    @blp.response(200, DeveloperDetailSchema)
    def post(self, body: dict[str, Any], developer_id: int) -> dict[str, Any]:
        """Merge another developer of the same organization into this one (owners): their identities and
        activity move here, and they are deleted; the merge is recorded with its reason"""
        target = org_scope.developer(developer_id)
        org_scope.owned(target.organization_id)
        source = Developer.get_or_none(Developer.id == body["developer_id"],
                                       Developer.organization == target.organization_id)
        if source is None or source.id == target.id:
            raise invalid("developer_id", "Must be another developer of the same organization.")
        identities.merge(target.organization_id, source, target, current_user().id, body["reason"])
        cache_views.organization_changed(services().redis, target.organization_id)
        return _shown(target)


@blp.route("/<int:developer_id>/split")
class Split(MethodView):
    @auth_required("engineering:manage")
    @blp.arguments(SplitSchema)
    @blp.response(201, DeveloperDetailSchema)
    def post(self, body: dict[str, Any], developer_id: int) -> dict[str, Any]:
        """Move some of a developer's identities (and their activity) to a new developer (owners); at least one
        identity must stay"""
        developer = org_scope.developer(developer_id)
        org_scope.owned(developer.organization_id)
        own = {i.id for i in developer.identities}
        chosen = set(body["identity_ids"])
        if not chosen <= own or chosen == own:
            raise invalid("identity_ids", "Must be some, not all, of this developer's identities.")
        fresh = identities.split(developer.organization_id, developer, sorted(chosen), current_user().id,
                                 body["reason"])
        cache_views.organization_changed(services().redis, developer.organization_id)
        return _shown(fresh)
