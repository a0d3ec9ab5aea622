"""`/api/v1/analytics/cycle-time`, `/analytics/pull-requests` and `/analytics/pull-requests/{id}/timeline`: how
pull requests move from first commit to production, over the organizations you belong to (definitions:
`domain.engineering.cycle`, `domain.engineering.pull_analytics`; docs/engineering-analytics.md)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.caching import figures_response
from api.errors import not_found
from api.schemas.pull_analytics import (
    CycleTimeArgsSchema,
    CycleTimeSchema,
    PullRequestMetricsSchema,
    ScopeArgsSchema,
    TimelineSchema,
)
from domain.engineering.access import visible_ids
from domain.engineering.pull_analytics import Scope, cycle_time, pull_request_metrics, timeline
from models.activity import PullRequest
from models.repository import Repository

blp = Blueprint("pull_analytics", __name__, url_prefix="/api/v1/analytics",
                description="Cycle time and pull request metrics")


def _organizations(args: dict[str, Any]) -> set[int]:
    """The organizations of the ids the arguments name, each looked up as the user sees it (404 when they cannot)."""
    organizations = {org_scope.organization(args["organization_id"]).id} if "organization_id" in args else set()
    if "team_id" in args:
        organizations.add(org_scope.team(args["team_id"]).organization_id)
    if "repository_id" in args:
        organizations.add(org_scope.repository(args["repository_id"]).organization_id)
    if "developer_id" in args:
        organizations.add(org_scope.developer(args["developer_id"]).organization_id)
    return organizations


def _scope(args: dict[str, Any], organizations: set[int]) -> Scope:
    """The scope the arguments name. A team, repository or developer lies in one organization: naming it lets the
    database read that organization's index rather than every row."""
    only = next(iter(organizations)) if len(organizations) == 1 else args.get("organization_id")
    return Scope(organizations=visible_ids(current_user()), organization_id=only, team_id=args.get("team_id"),
                 repository_id=args.get("repository_id"), developer_id=args.get("developer_id"),
                 include_bots=args["include_bots"])


def _answer(view: str, args: dict[str, Any], build: Callable[[Scope], Any]) -> Response:
    """One organization's figures are shared by its members and cached 5 minutes (under the view's name and the
    arguments: the entry holds the developers list's figures too); across organizations (or ids of two), read
    each time. The scope is made only when there is no cached answer."""
    organizations = _organizations(args)
    return figures_response(view, next(iter(organizations)) if len(organizations) == 1 else None, args,
                            lambda: build(_scope(args, organizations)))


@blp.route("/cycle-time")
class CycleTime(MethodView):
    @auth_required()
    @blp.arguments(CycleTimeArgsSchema, location="query")
    @blp.response(200, CycleTimeSchema)
    def get(self, args: dict[str, Any]) -> Response:
        """Cycle time of the pull requests merged in the range: the mean total from first commit to production,
        each stage's mean, the total's percentiles, a series, and the trend against the range before"""
        return _answer("cycle-time", args, lambda scope: CycleTimeSchema().dump(
            cycle_time(scope, args["start_date"], args["end_date"], args["granularity"])))


@blp.route("/pull-requests")
class PullRequestMetrics(MethodView):
    @auth_required()
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(200, PullRequestMetricsSchema)
    def get(self, args: dict[str, Any]) -> Response:
        """Time to merge, pickup, review depth and size (mean, p50, p75, p90), and the merge rate"""
        return _answer("pull-requests", args, lambda scope: PullRequestMetricsSchema().dump(
            pull_request_metrics(scope, args["start_date"], args["end_date"])))


@blp.route("/pull-requests/<int:pull_request_id>/timeline")
class PullRequestTimeline(MethodView):
    @auth_required()
    @blp.response(200, TimelineSchema)
    def get(self, pull_request_id: int) -> dict[str, Any]:
        """One pull request's stages, the events that bound them, and the deployment it was linked to, with why"""
        found = org_scope.scoped(PullRequest.select(PullRequest.id).join(Repository), Repository.organization).where(
            PullRequest.id == pull_request_id).first()
        if found is None:
            raise not_found("Pull request", pull_request_id)
        return timeline(pull_request_id)

