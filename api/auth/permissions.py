"""Roles map to sets of permissions; a viewer only reads."""
from __future__ import annotations

PERMISSIONS = (
    "build:create", "build:read", "build:cancel", "analysis:create", "analysis:read",
    "webhook:manage", "alert:manage", "metrics:write", "cluster:manage", "engineering:manage", "admin",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "admin": PERMISSIONS,
    "user": ("build:create", "build:read", "build:cancel", "analysis:create", "analysis:read",
             "webhook:manage", "alert:manage", "metrics:write", "cluster:manage", "engineering:manage"),
    "viewer": ("build:read", "analysis:read"),
}


def permissions_for(role: str) -> list[str]:
    return list(ROLE_PERMISSIONS.get(role, ()))
