"""The baseline for the API latency benchmark: a bare Flask app, with none of Conveyor's auth, database,
Redis, schemas or middleware. `gunicorn 'bench.bare_app:create_app()'` serves it."""
from __future__ import annotations

from flask import Flask, Response, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/json")
    def json_ok() -> Response:
        return jsonify({"status": "healthy"})

    return app
