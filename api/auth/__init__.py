"""Authentication (JWT) and authorisation (roles -> permissions)."""
