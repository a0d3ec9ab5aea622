"""`/api/v1/pipelines`: the pipeline runs polled from your CI sources (`/api/v1/ci/sources`, routes/ci.py).

A source is its creator's (admins see all); so are its pipelines."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import not_found
from api.schemas.common import page, page_of
from api.schemas.polling import PipelineArgsSchema, PipelineDetailSchema, PipelineSchema
from models.pipeline import CISource, Pipeline

blp = Blueprint("pipelines", __name__, url_prefix="/api/v1/pipelines", description="Pipeline runs")


def _pipelines() -> Any:
    query = Pipeline.select(Pipeline, CISource).join(CISource)
    user = current_user()
    return query if user.role == "admin" else query.where(CISource.owner == user.id)


def _shape(row: Pipeline) -> dict[str, Any]:
    return {**row.__data__, "provider": row.source.provider, "source_id": row.source.id,
            "commit": {"sha": row.commit_sha, "message": row.commit_message, "author": row.commit_author,
                       "timestamp": row.commit_timestamp}}


@blp.route("")
class Pipelines(MethodView):
    @auth_required()
    @blp.arguments(PipelineArgsSchema, location="query")
    @blp.response(200, page_of(PipelineSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Pipeline runs of your sources, newest first; filter by repository, branch and status"""
        query = _pipelines()
        for name in ("repository", "branch", "status"):
            if name in args:
                query = query.where(getattr(Pipeline, name) == args[name])
        listed = page(query.order_by(Pipeline.started_at.desc(nulls="LAST"), Pipeline.id.desc()), args)
        return {**listed, "items": [_shape(row) for row in listed["items"]]}


@blp.route("/<int:pipeline_id>")
class PipelineItem(MethodView):
    @auth_required()
    @blp.response(200, PipelineDetailSchema)
    def get(self, pipeline_id: int) -> dict[str, Any]:
        """One pipeline run with its commit and stages"""
        row = _pipelines().where(Pipeline.id == pipeline_id).first()
        if row is None:
            raise not_found("Pipeline", pipeline_id)
        return _shape(row)
