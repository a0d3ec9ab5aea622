"""Who sees and changes what: a user sees the organizations they are a member of (and everything in them);
owners change them; admins see and change all. Anything of another organization answers as if absent."""
from __future__ import annotations

from typing import Any

from models.organization import Organization, OrganizationMember
from models.user import User


def organizations(user: User) -> Any:
    """The organizations the user sees, as a query."""
    if user.role == "admin":
        return Organization.select()
    return Organization.select().join(OrganizationMember).where(OrganizationMember.user == user.id)


def visible_ids(user: User) -> Any:
    """The ids of the organizations the user sees, as a subquery (None: all, for admins)."""
    if user.role == "admin":
        return None
    return OrganizationMember.select(OrganizationMember.organization).where(OrganizationMember.user == user.id)


def role_in(organization_id: int, user: User) -> str | None:
    """owner | member | None; an admin is an owner of every organization."""
    if user.role == "admin":
        return "owner"
    member = OrganizationMember.get_or_none(OrganizationMember.organization == organization_id,
                                            OrganizationMember.user == user.id)
    return member.role if member else None
