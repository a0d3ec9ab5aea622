"""Looking up organizations and what is in them for the signed-in user: what they cannot see answers 404 (as
if absent, so ids of other organizations leak nothing), what they see but do not own answers 403 on writes."""
from __future__ import annotations

from typing import Any

from api.auth.guard import current_user
from api.errors import ApiError, not_found
from domain.engineering.access import role_in, visible_ids
from models.developer import Developer
from models.organization import Organization, Team
from models.repository import Repository


def scoped(query: Any, organization_field: Any) -> Any:
    """`query` narrowed to the organizations the user sees."""
    visible = visible_ids(current_user())
    return query if visible is None else query.where(organization_field << visible)


def organization(organization_id: int) -> Organization:
    found = scoped(Organization.select(), Organization.id).where(Organization.id == organization_id).first()
    if found is None:
        raise not_found("Organization", organization_id)
    return found


def owned(organization_id: int) -> None:
    """403 unless the user owns the organization (which they see: the caller looked it up first)."""
    if role_in(organization_id, current_user()) != "owner":
        raise ApiError(403, "Only the organization's owners (and admins) change it")


def team(team_id: int) -> Team:
    found = scoped(Team.select(), Team.organization).where(Team.id == team_id).first()
    if found is None:
        raise not_found("Team", team_id)
    return found


def repository(repository_id: int) -> Repository:
    found = scoped(Repository.select(), Repository.organization).where(Repository.id == repository_id).first()
    if found is None:
        raise not_found("Repository", repository_id)
    return found


def developer(developer_id: int) -> Developer:
    found = scoped(Developer.select(), Developer.organization).where(Developer.id == developer_id).first()
    if found is None:
        raise not_found("Developer", developer_id)
    return found


def repositories(args: dict[str, Any]) -> tuple[Any, set[int]]:
    """The repositories the user sees that `organization_id`, `team_id` (the team's) and `repository_id` in `args`
    narrow to, each id looked up as the user sees it (404 when they cannot); and the organizations the ids lie in."""
    query, organizations = scoped(Repository.select(), Repository.organization), set()
    if "organization_id" in args:
        organizations.add(organization(args["organization_id"]).id)
        query = query.where(Repository.organization == args["organization_id"])
    if "team_id" in args:
        organizations.add(team(args["team_id"]).organization_id)
        query = query.where(Repository.team == args["team_id"])
    if "repository_id" in args:
        organizations.add(repository(args["repository_id"]).organization_id)
        query = query.where(Repository.id == args["repository_id"])
    return query, organizations
