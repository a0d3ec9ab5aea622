"""The roles a user can have; what each may do is the API's business (`api.auth.permissions`)."""
from __future__ import annotations

ROLES = ("admin", "user", "viewer")
