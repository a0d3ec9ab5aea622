"""`/metrics`: the Prometheus scrape endpoint (the platform's own counters; `/api/v1/metrics` is your metric
points, routes/metrics.py)."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.blueprint import Blueprint
from api.observability import registry

blp = Blueprint("prometheus", __name__, url_prefix="", description="Prometheus metrics")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(security=[], responses={"200": {"description": "Prometheus text format",
                                             "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
    def get(self) -> Response:
        """Prometheus metrics: requests, latencies, queue depths, workers"""
        # `content_type`, not `mimetype`: Werkzeug appends a charset to a mimetype, and this one has its own. A
        # parameter given twice is an invalid media type to Go's parser, so Prometheus would refuse the scrape.
        return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
