"""The Blueprint every API route module uses: flask-smorest's, with a body parser that insists on a body and
refuses NUL characters.

webargs reads a missing body, or one sent without a JSON content type, as "nothing", so a PUT or PATCH
whose fields are all optional would succeed with no body at all, although OpenAPI documents the body as
required. Here that is a 400 `BAD_REQUEST`, like a body that is not JSON. A NUL in any string of a body or
a query (PostgreSQL refuses it in text) is a 422 naming where it is, on every route and every database.
"""
from __future__ import annotations

from typing import Any

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser

from api.errors import ApiError

NUL_MESSAGE = "Must not contain NUL (\\u0000) characters."


def nul_path(value: Any, path: str = "") -> str | None:
    """Where in a JSON value a string (or a key) holds a NUL character, as `a.b.0`; None when nowhere.
    PostgreSQL refuses NUL in text, so such input must be a 422 before it reaches a query, not a 500."""
    if isinstance(value, str):
        return (path or "_schema") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = nul_path(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class JsonBodyParser(FlaskParser):
    def load_json(self, req: Any, schema: Any) -> Any:
        data = super().load_json(req, schema)
        if data is core.missing:
            if getattr(schema, "BODY_OPTIONAL", False):  # e.g. a refresh token sent as the Bearer token
                return {}
            raise ApiError(400, "A JSON request body is required (Content-Type: application/json)")
        return _without_nul(data)

    def load_querystring(self, req: Any, schema: Any) -> Any:
        _without_nul(req.args.to_dict(flat=False))
        return super().load_querystring(req, schema)


def _without_nul(data: Any) -> Any:
    where = nul_path(data)
    if where:
        raise ApiError(422, "The request is not valid", details={where: [NUL_MESSAGE]})
    return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, with a schema class made an instance once: webargs would instantiate a class
        on every request (marshmallow deep-copies its fields each time), a fifth of parsing a list's query."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
