"""Analyses: ruff, radon, bandit and mypy on a project, as a queued job."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api import task_views as tasks
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.schemas.common import MessageSchema, page_of
from api.schemas.tasks import AnalysisAcceptedSchema, AnalysisCreateSchema, AnalysisSchema, TaskListArgsSchema
from models.task import Task
from workers.analyses import run_analysis

blp = Blueprint("analyses", __name__, url_prefix="/api/v1/analyses", description="Code analyses")


@blp.route("")
class Analyses(MethodView):
    @auth_required("analysis:read")
    @blp.arguments(TaskListArgsSchema, location="query")
    @blp.response(200, page_of(AnalysisSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your analyses (all for admins), newest first"""
        return tasks.listing("analysis", current_user(), args)

    @auth_required("analysis:create")
    @blp.arguments(AnalysisCreateSchema)
    @blp.response(202, AnalysisAcceptedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue an analysis: quality (ruff, radon), security (bandit), types (mypy)"""
        task = tasks.create("analysis", run_analysis, current_user(), body)
        return {"analysis_id": str(task.id), "status": "queued"}


@blp.route("/<uuid:analysis_id>")
class AnalysisItem(MethodView):
    @auth_required("analysis:read")
    @blp.response(200, AnalysisSchema)
    def get(self, analysis_id: str) -> Task:
        """An analysis's state and findings"""
        return tasks.find("analysis", current_user(), analysis_id)

    @auth_required("analysis:create")
    @blp.response(200, MessageSchema)
    def delete(self, analysis_id: str) -> dict[str, str]:
        """Cancel an analysis"""
        return {"message": tasks.cancel("analysis", current_user(), analysis_id)}
