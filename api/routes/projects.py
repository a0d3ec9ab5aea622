"""Projects: the repositories builds and analyses run on."""
from __future__ import annotations

from typing import Any

import peewee
from flask.views import MethodView

from api.audit import audit
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import ApiError, not_found
from api.schemas.common import ListArgsSchema, page, page_of
from api.schemas.projects import ProjectCreateSchema, ProjectSchema, ProjectUpdateSchema
from api.targets import check_repo_url
from models.db import db, utc_naive
from models.project import Project
from models.user import User

blp = Blueprint("projects", __name__, url_prefix="/api/v1/projects", description="Projects to build and analyse")


def _get(name: str) -> Project:
    project = Project.select(Project, User).join(User).where(Project.name == name).first()
    if project is None:
        raise not_found("Project", name)
    return project


def _editable(name: str) -> Project:
    project = _get(name)
    if not project.editable_by(current_user()):
        raise ApiError(403, "Only the project's creator or an admin may change it")
    return project


@blp.route("")
class Projects(MethodView):
    @auth_required("build:read")
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, page_of(ProjectSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """List projects, newest first"""
        return page(Project.select(Project, User).join(User).order_by(Project.id.desc()), args)

    @auth_required("build:create")
    @blp.arguments(ProjectCreateSchema)
    @blp.response(201, ProjectSchema)
    def post(self, body: dict[str, Any]) -> Project:
        """Create a project; a taken name answers 409, a repository on an internal address 422"""
        check_repo_url(body)
        try:
            with db.atomic():
                return Project.create(created_by=current_user(), env=body.pop("env", {}), **body)
        except peewee.IntegrityError:
            raise ApiError(409, f"Project {body['name']!r} exists") from None


@blp.route("/<string:name>")
class ProjectItem(MethodView):
    @auth_required("build:read")
    @blp.response(200, ProjectSchema)
    def get(self, name: str) -> Project:
        """One project"""
        return _get(name)

    @auth_required("build:create")
    @blp.arguments(ProjectUpdateSchema)
    @blp.response(200, ProjectSchema)
    def put(self, body: dict[str, Any], name: str) -> Project:
        """Change a project's repository, branch, steps or env (its creator or an admin)"""
        check_repo_url(body)
        with db.atomic():
            project = _editable(name)
            for field, value in body.items():
                setattr(project, field, value)
            project.updated_at = utc_naive()
            project.save()
        return project

    @auth_required("build:create")
    @blp.response(204)
    def delete(self, name: str) -> None:
        """Delete a project (its creator or an admin); its past tasks stay"""
        with db.atomic():
            project = _editable(name)
            project.delete_instance()
            audit("project.delete", target=("project", project.id), details={"name": project.name})
