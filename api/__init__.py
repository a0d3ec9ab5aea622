"""The Flask API: `create_app()` builds it; `flask --app api ...` finds it here."""
from api.app import create_app

__all__ = ["create_app"]
