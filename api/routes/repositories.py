"""`/api/v1/repositories` (seed 002): the repositories an organization's activity comes from, their commits and
pull requests. Registering one answers its hook secret, once, with the hook URLs to give GitHub or GitLab
(the hooks themselves: routes/repository_hooks.py)."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import peewee
from flask import Response, request
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.caching import cached_organization_response
from api.errors import ApiError, invalid
from api.schemas.common import page, page_of
from api.schemas.engineering import (
    ActivityArgsSchema,
    BackfillRequestSchema,
    IssueListArgsSchema,
    IssueSchema,
    PullListArgsSchema,
    PullRequestSchema,
    RepositoryCommitSchema,
    RepositoryCreatedSchema,
    RepositoryCreateSchema,
    RepositoryDetailSchema,
    RepositoryListArgsSchema,
    RepositorySchema,
    RepositoryUpdateSchema,
)
from api.schemas.polling import PollQueuedSchema
from api.services import services
from api.targets import check_api_url, check_named_host
from core.timeutil import isoformat
from domain import cache_views
from domain.engineering.backfill import backfill_requested
from domain.engineering.figures import repository_statistics, repository_summaries
from models.activity import Commit, Issue, Milestone, PullRequest, Review
from models.db import db, utc_naive
from models.pipeline import DEFAULT_API_URLS
from models.repository import Repository
from workers.engineering import poll_repository

blp = Blueprint("repositories", __name__, url_prefix="/api/v1/repositories",
                description="Repositories and their activity (engineering intelligence)")


def _summarised(repos: list[Repository]) -> list[Repository]:
    summaries = repository_summaries(r.id for r in repos)
    for repo in repos:
        count, last = summaries[repo.id]
        vars(repo).update(commit_count=count, last_commit=last)  # shown, not stored
    return repos


def _full_name(url: str, provider: str) -> str:
    path = urlsplit(url).path.strip("/").removesuffix(".git")
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or (provider == "github" and len(parts) != 2):
        raise invalid("url", "Must be the repository's web URL, such as https://github.com/owner/repo "
                                       "or https://gitlab.com/group/project.")
    return "/".join(parts)


def _team_in(org_id: int, team_id: int | None) -> int | None:
    if team_id is not None and org_scope.team(team_id).organization_id != org_id:
        raise invalid("team_id", "Must be a team of the repository's organization.")
    return team_id


def _naive(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment and moment.tzinfo else moment


@blp.route("")
class Repositories(MethodView):
    @auth_required()
    @blp.arguments(RepositoryListArgsSchema, location="query")
    @blp.response(200, page_of(RepositorySchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Repositories of your organizations, by name, with their commit count and last commit"""
        query = org_scope.scoped(Repository.select(), Repository.organization)
        if "organization_id" in args:
            query = query.where(Repository.organization == args["organization_id"])
        if "team_id" in args:
            query = query.where(Repository.team == args["team_id"])
        listed = page(query.order_by(Repository.name, Repository.id), args)
        return {**listed, "items": _summarised(listed["items"])}

    @auth_required("engineering:manage")
    @blp.arguments(RepositoryCreateSchema)
    @blp.response(201, RepositoryCreatedSchema)
    def post(self, body: dict[str, Any]) -> Repository:
        """Register a repository (owners): its organization is its team's, or `organization_id`. The answer
        carries `hook_secret` (shown this once) and the hook URLs; the token is never returned"""
        # Neither URL is fetched here, but the poller will call api_url, and a repository's own host is where a
        # checkout would go: both are refused when they point inside (POLL_ALLOW_PRIVATE lets them in).
        check_named_host(body["url"], services().settings.poll_allow_private, "url")
        check_api_url(body)
        if body.get("team_id") is not None:
            org_id = org_scope.team(body["team_id"]).organization_id
        elif "organization_id" in body:
            org_id = org_scope.organization(body["organization_id"]).id
        else:
            raise invalid("organization_id", "Give organization_id or team_id.")
        org_scope.owned(org_id)
        body.pop("organization_id", None)
        body.setdefault("api_url", DEFAULT_API_URLS[body["provider"]])
        body.setdefault("name", _full_name(body["url"], body["provider"]).rsplit("/", 1)[-1])
        hook_secret = secrets.token_urlsafe(32)
        try:
            with db.atomic():
                repo = Repository.create(organization=org_id, full_name=_full_name(body["url"], body["provider"]),
                                         hook_secret=hook_secret, **body)
        except peewee.IntegrityError:
            raise ApiError(409, f"The repository {body['url']} is registered already") from None
        base = f"{request.host_url}api/v1/repositories/{repo.id}/hooks"
        vars(repo).update(hooks={"github": f"{base}/github", "gitlab": f"{base}/gitlab"})
        return _summarised([repo])[0]


def _detail(repo: Repository) -> Repository:
    _summarised([repo])
    statistics = repository_statistics(repo.id)
    vars(repo).update(statistics={**statistics, "last_commit": isoformat(statistics["last_commit"])})
    return repo


@blp.route("/<int:repository_id>")
class RepositoryItem(MethodView):
    @auth_required()
    @blp.response(200, RepositoryDetailSchema)
    def get(self, repository_id: int) -> Response:
        """A repository with its statistics, bots left out (cached 15 min for the organization; its writes and
        new activity refresh it)"""
        repo = org_scope.repository(repository_id)
        return cached_organization_response("repository", repo.organization_id, {"id": repo.id},
                                            lambda: RepositoryDetailSchema().dump(_detail(repo)))

    @auth_required("engineering:manage")
    @blp.arguments(RepositoryUpdateSchema)
    @blp.response(200, RepositorySchema)
    def put(self, body: dict[str, Any], repository_id: int) -> Repository:
        """Change a repository's name, team, language, API URL, token or polling (owners)"""
        repo = org_scope.repository(repository_id)
        org_scope.owned(repo.organization_id)
        check_api_url(body)
        if "team_id" in body:
            repo.team_id = _team_in(repo.organization_id, body.pop("team_id"))
        for field, value in body.items():
            setattr(repo, field, value)
        repo.updated_at = utc_naive()
        repo.save()
        cache_views.organization_changed(services().redis, repo.organization_id)
        return _summarised([repo])[0]

    @auth_required("engineering:manage")
    @blp.response(204)
    def delete(self, repository_id: int) -> None:
        """Forget a repository and its activity (owners)"""
        repo = org_scope.repository(repository_id)
        org_scope.owned(repo.organization_id)
        repo.delete_instance()
        cache_views.organization_changed(services().redis, repo.organization_id)


@blp.route("/<int:repository_id>/poll")
class Poll(MethodView):
    @auth_required("engineering:manage")
    @blp.response(202, PollQueuedSchema)
    def post(self, repository_id: int) -> dict[str, Any]:
        """Poll the repository now (members of its organization), as its interval would"""
        repo = org_scope.repository(repository_id)
        message = poll_repository.send(repo.id)
        return {"message_id": message.message_id, "status": "queued"}


@blp.route("/<int:repository_id>/backfill")
class Backfill(MethodView):
    @auth_required("engineering:manage")
    @blp.arguments(BackfillRequestSchema)
    @blp.response(202, PollQueuedSchema)
    def post(self, body: dict[str, Any], repository_id: int) -> dict[str, Any]:
        """Read the repository's history again, `days` back (owners): the next poll is a backfill, tracked in the
        repository's `backfill`; what is stored already stays one row each"""
        repo = org_scope.repository(repository_id)
        org_scope.owned(repo.organization_id)
        fields: dict[str, Any] = {"poll_cursor": None, "backfill": backfill_requested(), "updated_at": utc_naive()}
        if "days" in body:
            fields["backfill_days"] = body["days"]
        Repository.update(**fields).where(Repository.id == repo.id).execute()
        cache_views.organization_changed(services().redis, repo.organization_id)
        message = poll_repository.send(repo.id)
        return {"message_id": message.message_id, "status": "queued"}


def _window(query: Any, field: Any, args: dict[str, Any]) -> Any:
    if "since" in args:
        query = query.where(field >= _naive(args["since"]))
    if "until" in args:
        query = query.where(field < _naive(args["until"]))
    return query


@blp.route("/<int:repository_id>/commits")
class Commits(MethodView):
    @auth_required()
    @blp.arguments(ActivityArgsSchema, location="query")
    @blp.response(200, page_of(RepositoryCommitSchema))
    def get(self, args: dict[str, Any], repository_id: int) -> dict[str, Any]:
        """The repository's commits, newest first (`author`: a developer id; `since`/`until`: authored)"""
        repo = org_scope.repository(repository_id)
        query = _window(Commit.select().where(Commit.repository == repo.id), Commit.authored_at, args)
        if "author" in args:
            query = query.where(Commit.developer == args["author"])
        return page(query.order_by(Commit.authored_at.desc(nulls="LAST"), Commit.id.desc()), args)


@blp.route("/<int:repository_id>/pull-requests")
class PullRequests(MethodView):
    @auth_required()
    @blp.arguments(PullListArgsSchema, location="query")
    @blp.response(200, page_of(PullRequestSchema))
    def get(self, args: dict[str, Any], repository_id: int) -> dict[str, Any]:
        """The repository's pull (merge) requests, newest first (`state`, `author`, `since`/`until`: opened)"""
        repo = org_scope.repository(repository_id)
        query = _window(PullRequest.select().where(PullRequest.repository == repo.id), PullRequest.opened_at, args)
        if "state" in args:
            query = query.where(PullRequest.state == args["state"])
        if "author" in args:
            query = query.where(PullRequest.developer == args["author"])
        reviews = Review.select(peewee.fn.COUNT(Review.id)).where(Review.pull_request == PullRequest.id)
        return page(query.select_extend(reviews.alias("review_count"))
                    .order_by(PullRequest.opened_at.desc(nulls="LAST"), PullRequest.id.desc()), args)


@blp.route("/<int:repository_id>/issues")
class Issues(MethodView):
    @auth_required()
    @blp.arguments(IssueListArgsSchema, location="query")
    @blp.response(200, page_of(IssueSchema))
    def get(self, args: dict[str, Any], repository_id: int) -> dict[str, Any]:
        """The repository's issues with their milestones and points, newest first (`state`, `author`,
        `since`/`until`: opened)"""
        repo = org_scope.repository(repository_id)
        query = _window(Issue.select(Issue, Milestone).join(Milestone, peewee.JOIN.LEFT_OUTER)
                        .where(Issue.repository == repo.id), Issue.opened_at, args)
        if "state" in args:
            query = query.where(Issue.state == args["state"])
        if "author" in args:
            query = query.where(Issue.developer == args["author"])
        return page(query.order_by(Issue.opened_at.desc(nulls="LAST"), Issue.id.desc()), args)
