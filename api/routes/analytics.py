"""`/api/v1/analytics/dora-metrics` (and its deprecated first name `/dora`): DORA metrics over the pipelines of
your CI sources' deploy workflows, or, with `organization_id`, `team_id` or `repository_id`, over registered
repositories through their organization members' CI sources (definitions: `domain.dora`)."""
from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.caching import figures_response
from api.deprecation import deprecated
from api.schemas.common import UtcDateTime, row_id
from api.schemas.ranges import RangeArgsSchema
from domain.dora import PERIODS, dora
from domain.engineering.links import pipelines_of
from domain.engineering.pull_analytics import Scope, change_lead_spread
from models.pipeline import CISource, Pipeline
from models.repository import Repository

blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics", description="DORA metrics")
# `/dora` became `/dora-metrics` (seed 002's path); the old path answers the same for a year, with notice.
DORA_RENAMED, DORA_SUNSET = date(2026, 12, 7), date(2027, 12, 7)


class DoraArgsSchema(RangeArgsSchema):
    granularity = ma.fields.String(load_default="daily", validate=ma.validate.OneOf(tuple(PERIODS)))
    repository = ma.fields.String(validate=ma.validate.Length(min=1, max=255), metadata={
        "description": "Your CI sources' pipelines of this owner/name"})
    organization_id = row_id(metadata={"description": "The organization's repositories, through its members' CI "
                                                      "sources"})
    team_id = row_id(metadata={"description": "The team's repositories"})
    repository_id = row_id(metadata={"description": "One registered repository"})


class _Frequency(ma.Schema):
    value, unit, deployments = ma.fields.Float(), ma.fields.String(), ma.fields.Integer()
    previous, trend = ma.fields.Float(allow_none=True), ma.fields.String()


class _Spread(ma.Schema):
    median_hours, p90_hours = ma.fields.Float(allow_none=True), ma.fields.Float(allow_none=True)
    samples, previous, trend = ma.fields.Integer(), ma.fields.Float(allow_none=True), ma.fields.String()


class _Restore(_Spread):
    unrestored = ma.fields.Integer()


class _FailureRate(ma.Schema):
    percentage, previous = ma.fields.Float(allow_none=True), ma.fields.Float(allow_none=True)
    failed, total, trend = ma.fields.Integer(), ma.fields.Integer(), ma.fields.String()


class _Period(ma.Schema):
    period_start, deployments, failed_deployments = UtcDateTime(), ma.fields.Integer(), ma.fields.Integer()


class DoraSchema(ma.Schema):
    start_date, end_date, granularity = UtcDateTime(), UtcDateTime(), ma.fields.String()
    deployment_frequency = ma.fields.Nested(_Frequency)
    lead_time_for_changes = ma.fields.Nested(_Spread)
    change_failure_rate = ma.fields.Nested(_FailureRate)
    time_to_restore = ma.fields.Nested(_Restore)
    series = ma.fields.List(ma.fields.Nested(_Period))


SCOPES = ("organization_id", "team_id", "repository_id")


def _dora(args: dict[str, Any]) -> dict[str, Any] | Response:
    if any(name in args for name in SCOPES):
        return _dora_of_repositories(args)
    user = current_user()
    query = Pipeline.select(Pipeline, CISource).join(CISource)
    if user.role != "admin":
        query = query.where(CISource.owner == user.id)
    if "repository" in args:
        query = query.where(Pipeline.repository == args["repository"])
    return dora(query, args["start_date"], args["end_date"], args["granularity"])


def _dora_of_repositories(args: dict[str, Any]) -> Response:
    """DORA over registered repositories (an organization's, a team's, or one): the deploys of the CI sources its
    members own for them, and lead time from each change's first commit (`domain.engineering.pull_analytics`)."""
    repositories, organizations = org_scope.repositories(args)

    def build() -> Any:  # all of it only when the cache has no answer
        chosen = repositories.select(Repository.id, Repository.organization, Repository.full_name)
        names = [r.full_name.lower() for r in chosen] if len(organizations) == 1 else []  # two: nothing in both
        query = pipelines_of(organizations, names)
        if "repository" in args:
            query = query.where(Pipeline.repository == args["repository"])
        narrowed = "team_id" in args or "repository_id" in args  # else all the organization's: no need to say so
        scope = Scope(organization_id=next(iter(organizations)),
                      repositories=chosen.select(Repository.id) if narrowed else None)
        return DoraSchema().dump(dora(query, args["start_date"], args["end_date"], args["granularity"],
                                      lead_times=lambda start, end: change_lead_spread(scope, start, end)))

    # One organization's figures are its members' (cached 5 min; new runs, pull requests and writes drop them).
    return figures_response("dora", next(iter(organizations)) if len(organizations) == 1 else None, args, build)


@blp.route("/dora-metrics")
class DoraMetrics(MethodView):
    @auth_required()
    @blp.arguments(DoraArgsSchema, location="query")
    @blp.response(200, DoraSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any] | Response:
        """Deployment frequency, lead time for changes, change failure rate and time to restore, with trends"""
        return _dora(args)


@blp.route("/dora")
class Dora(MethodView):
    @deprecated(blp, since=DORA_RENAMED, sunset=DORA_SUNSET, successor="/api/v1/analytics/dora-metrics")
    @auth_required()
    @blp.arguments(DoraArgsSchema, location="query")
    @blp.response(200, DoraSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any] | Response:
        """The DORA metrics under their first name (seed 002 names the path `dora-metrics`)"""
        return _dora(args)
