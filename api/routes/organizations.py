"""`/api/v1/organizations` (seed 002): the organizations you are a member of (admins: all), their members, and
what only owners change."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api import org_scope
from api.audit import audit
from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import invalid
from api.schemas.common import page, page_of
from api.schemas.engineering import (
    OrganizationCreateSchema,
    OrganizationMembersSchema,
    OrganizationSchema,
    OrganizationUpdateSchema,
    SeiListArgsSchema,
)
from domain.engineering.access import organizations, role_in
from models.db import db, utc_naive
from models.organization import Organization, OrganizationMember
from models.repository import Repository
from models.user import User

blp = Blueprint("organizations", __name__, url_prefix="/api/v1/organizations",
                description="Organizations and their members (engineering intelligence)")


def _shown(org: Organization) -> Organization:
    vars(org).update(role=role_in(org.id, current_user()))  # shown, not stored
    return org


@blp.route("")
class Organizations(MethodView):
    @auth_required()
    @blp.arguments(SeiListArgsSchema, location="query")
    @blp.response(200, page_of(OrganizationSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """The organizations you are a member of (admins: all), by name; `skip` is `offset`'s other name"""
        listed = page(organizations(current_user()).order_by(Organization.name, Organization.id), args)
        return {**listed, "items": [_shown(org) for org in listed["items"]]}

    @auth_required("engineering:manage")
    @blp.arguments(OrganizationCreateSchema)
    @blp.response(201, OrganizationSchema)
    def post(self, body: dict[str, Any]) -> Organization:
        """Create an organization; you become its owner"""
        with db.atomic():
            org = Organization.create(**body)
            OrganizationMember.create(organization=org.id, user=current_user().id, role="owner")
        return _shown(org)


@blp.route("/<int:organization_id>")
class OrganizationItem(MethodView):
    @auth_required()
    @blp.response(200, OrganizationSchema)
    def get(self, organization_id: int) -> Organization:
        """One organization (404 unless you are a member)"""
        return _shown(org_scope.organization(organization_id))

    @auth_required("engineering:manage")
    @blp.arguments(OrganizationUpdateSchema)
    @blp.response(200, OrganizationSchema)
    def put(self, body: dict[str, Any], organization_id: int) -> Organization:
        """Change an organization's name, description or settings (owners)"""
        org = org_scope.organization(organization_id)
        org_scope.owned(org.id)
        for field, value in body.items():
            setattr(org, field, value)
        org.updated_at = utc_naive()
        org.save()
        return _shown(org)

    @auth_required("engineering:manage")
    @blp.response(204)
    def delete(self, organization_id: int) -> None:
        """Delete an organization with its teams, repositories, developers and their activity (owners)"""
        org = org_scope.organization(organization_id)
        org_scope.owned(org.id)
        with db.atomic():
            # Its repositories, and their activity, first: deleting an identity nulls its commits' identity_id,
            # which has no index (`Commit.identity`), so identities must go once their commits have.
            Repository.delete().where(Repository.organization == org.id).execute()
            org.delete_instance()
            audit("organization.delete", target=("organization", org.id), details={"name": org.name})


@blp.route("/<int:organization_id>/members")
class Members(MethodView):
    @auth_required()
    @blp.response(200, OrganizationMembersSchema)
    def get(self, organization_id: int) -> dict[str, Any]:
        """The organization's members and their roles"""
        org = org_scope.organization(organization_id)
        rows = (OrganizationMember.select(OrganizationMember, User).join(User)
                .where(OrganizationMember.organization == org.id).order_by(User.username))
        return {"members": [{"user_id": m.user.id, "username": m.user.username, "role": m.role} for m in rows]}

    @auth_required("engineering:manage")
    @blp.arguments(OrganizationMembersSchema)
    @blp.response(200, OrganizationMembersSchema)
    def put(self, body: dict[str, Any], organization_id: int) -> dict[str, Any]:
        """Set the members and their roles in one call (owners); at least one owner must remain"""
        org = org_scope.organization(organization_id)
        org_scope.owned(org.id)
        roles = {m["user_id"]: m["role"] for m in body["members"]}
        if "owner" not in roles.values():
            raise invalid("members", "At least one member must be an owner.")
        known = {u.id: u for u in User.select().where(User.id << list(roles))}
        missing = sorted(set(roles) - set(known))
        if missing:
            raise invalid("members", f"No such users: {', '.join(map(str, missing))}.")
        with db.atomic():
            OrganizationMember.delete().where(OrganizationMember.organization == org.id).execute()
            OrganizationMember.insert_many([{"organization": org.id, "user": user_id, "role": role}
                                            for user_id, role in roles.items()]).execute()
        return {"members": [{"user_id": uid, "username": known[uid].username, "role": role}
                            for uid, role in sorted(roles.items(), key=lambda item: known[item[0]].username)]}
