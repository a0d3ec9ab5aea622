"""`/api/v1/dashboard`: your builds, webhooks, alerts and clusters at a glance (a cached view).

Not the HTML dashboard: that is `api/dashboard/`, which reads this."""
from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.caching import cached_response
from domain import cache_views

blp = Blueprint("dashboard", __name__, url_prefix="/api/v1/dashboard", description="Dashboard summary")


class DashboardSchema(ma.Schema):
    tasks_last_day = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    recent_tasks = ma.fields.List(ma.fields.Dict())
    webhooks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    alerts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    clusters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


@blp.route("")
class Dashboard(MethodView):
    @auth_required()
    @blp.response(200, DashboardSchema)
    def get(self) -> Response:
        """Your builds of the last day, webhooks, alerts and clusters at a glance (cached 5 min)"""
        user = current_user()
        return cached_response("dashboard", None, lambda: cache_views.dashboard(user))
