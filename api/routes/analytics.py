"""`/api/v1/analytics/dora-metrics` (and its deprecated first name `/dora`): DORA metrics over the pipelines of
your CI sources' deploy workflows (definitions: `domain.dora`)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.deprecation import deprecated
from api.schemas.common import StrictSchema, UtcDateTime
from domain.dora import PERIODS, dora
from models.pipeline import CISource, Pipeline

blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics", description="DORA metrics")
MAX_RANGE = timedelta(days=731)
# `/dora` became `/dora-metrics` (seed 002's path); the old path answers the same for a year, with notice.
DORA_RENAMED, DORA_SUNSET = date(2026, 12, 7), date(2027, 12, 7)
EARLIEST, LATEST = datetime(1970, 1, 1), datetime(9000, 1, 1)  # room for the previous span and a bare end date


class DayOrMoment(ma.fields.AwareDateTime):
    """A date (`2026-11-01`) or a date-time; as an end, a bare date includes that whole day."""

    def __init__(self, end: bool = False, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)
        self.end = end

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            moment = super()._deserialize(value, attr, data, **kwargs).astimezone(UTC).replace(tzinfo=None)
            return moment + timedelta(days=1) if self.end and isinstance(value, str) and len(value) == 10 else moment
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class DoraArgsSchema(StrictSchema):
    start_date = DayOrMoment(required=True)
    end_date = DayOrMoment(end=True, required=True, metadata={"description": "A bare date counts its whole day."})
    granularity = ma.fields.String(load_default="daily", validate=ma.validate.OneOf(tuple(PERIODS)))
    repository = ma.fields.String(validate=ma.validate.Length(min=1, max=255))

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None and not start < end <= start + MAX_RANGE:
            raise ma.ValidationError("end_date must be after start_date, and at most 731 days later.", "end_date")
        if start is not None and not EARLIEST <= start <= LATEST:
            raise ma.ValidationError(f"Between {EARLIEST.year} and {LATEST.year}.", "start_date")


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


def _dora(args: dict[str, Any]) -> dict[str, Any]:
    user = current_user()
    query = Pipeline.select(Pipeline, CISource).join(CISource)
    if user.role != "admin":
        query = query.where(CISource.owner == user.id)
    if "repository" in args:
        query = query.where(Pipeline.repository == args["repository"])
    return dora(query, args["start_date"], args["end_date"], args["granularity"])


@blp.route("/dora-metrics")
class DoraMetrics(MethodView):
    @auth_required()
    @blp.arguments(DoraArgsSchema, location="query")
    @blp.response(200, DoraSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Deployment frequency, lead time for changes, change failure rate and time to restore, with trends"""
        return _dora(args)


@blp.route("/dora")
class Dora(MethodView):
    @deprecated(blp, since=DORA_RENAMED, sunset=DORA_SUNSET, successor="/api/v1/analytics/dora-metrics")
    @auth_required()
    @blp.arguments(DoraArgsSchema, location="query")
    @blp.response(200, DoraSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The DORA metrics under their first name (seed 002 names the path `dora-metrics`)"""
        return _dora(args)
