"""The Blueprint every API route module uses: flask-smorest's, with a body parser that insists on a body.

webargs reads a missing body, or one sent without a JSON content type, as "nothing", so a PUT or PATCH
whose fields are all optional would succeed with no body at all, although OpenAPI documents the body as
required. Here that is a 400 `BAD_REQUEST`, like a body that is not JSON.
"""
from __future__ import annotations

from typing import Any

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser

from api.errors import ApiError


class JsonBodyParser(FlaskParser):
    def load_json(self, req: Any, schema: Any) -> Any:
        data = super().load_json(req, schema)
        if data is core.missing:
            raise ApiError(400, "A JSON request body is required (Content-Type: application/json)")
        return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, with a schema class made an instance once: webargs would instantiate a class
        on every request (marshmallow deep-copies its fields each time), a fifth of parsing a list's query."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
