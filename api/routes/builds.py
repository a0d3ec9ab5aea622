"""Builds: queue one, follow it, page its log, cancel it."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api import task_views as tasks
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.schemas.common import MessageSchema, page_of
from api.schemas.tasks import (
    BuildAcceptedSchema,
    BuildCreateSchema,
    BuildSchema,
    LogArgsSchema,
    LogPageSchema,
    TaskListArgsSchema,
)
from models.task import Task
from workers.builds import run_build

blp = Blueprint("builds", __name__, url_prefix="/api/v1/builds", description="Builds")


@blp.route("")
class Builds(MethodView):
    @auth_required("build:read")
    @blp.arguments(TaskListArgsSchema, location="query")
    @blp.response(200, page_of(BuildSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your builds (all builds for admins), newest first"""
        return tasks.listing("build", current_user(), args)

    @auth_required("build:create")
    @blp.arguments(BuildCreateSchema)
    @blp.response(202, BuildAcceptedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue a build of a project at a ref (default: its default branch)"""
        task = tasks.create("build", run_build, current_user(), body)
        return {"task_id": str(task.id), "status": "queued", "message": f"Build of {task.project_name} queued"}


@blp.route("/<uuid:task_id>")
class BuildItem(MethodView):
    @auth_required("build:read")
    @blp.response(200, BuildSchema)
    def get(self, task_id: str) -> Task:
        """A build's state, progress and results"""
        return tasks.find("build", current_user(), task_id)

    @auth_required("build:cancel")
    @blp.response(200, MessageSchema)
    def delete(self, task_id: str) -> dict[str, str]:
        """Cancel a build: a queued one never starts, a running one has its processes killed"""
        return {"message": tasks.cancel("build", current_user(), task_id)}


@blp.route("/<uuid:task_id>/logs")
class BuildLogs(MethodView):
    @auth_required("build:read")
    @blp.arguments(LogArgsSchema, location="query")
    @blp.response(200, LogPageSchema)
    def get(self, args: dict[str, int], task_id: str) -> dict[str, Any]:
        """Stored log lines from `offset` on"""
        return tasks.log_page("build", current_user(), task_id, args["offset"], args["limit"])
