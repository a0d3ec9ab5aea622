"""Alert rules (`/api/v1/alert-rules`) and the alerts they raise (`/api/v1/alerts`)."""
from __future__ import annotations

from typing import Any

import peewee
from flask import Response
from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.caching import cached_response
from api.errors import ApiError, invalid, not_found
from api.schemas.alerts import (
    AcknowledgedOneSchema,
    AcknowledgedSchema,
    AcknowledgeSchema,
    AlertListArgsSchema,
    AlertRuleCreateSchema,
    AlertRuleSchema,
    AlertRuleUpdateSchema,
    AlertSchema,
    AlertsSummarySchema,
)
from api.schemas.common import ListArgsSchema, page, page_of
from api.services import services
from domain import cache_views
from domain.alerting import ALERT_VIEWS, acknowledge, close_rule_alerts, resolve
from domain.events import publish
from models.alert import Alert, AlertRule
from models.db import db, utc_naive
from models.user import User

rules_blp = Blueprint("alert_rules", __name__, url_prefix="/api/v1/alert-rules", description="Alert rules")
alerts_blp = Blueprint("alerts", __name__, url_prefix="/api/v1/alerts", description="Alerts")


def _rule(rule_id: int) -> AlertRule:
    rule = AlertRule.select(AlertRule, User).join(User).where(AlertRule.id == rule_id).first()
    if rule is None:
        raise not_found("Alert rule", rule_id)
    return rule


def _editable(rule_id: int) -> AlertRule:
    """Everyone reads every rule; only its creator or an admin changes or deletes it."""
    rule = _rule(rule_id)
    user = current_user()
    if user.role != "admin" and rule.created_by_id != user.id:  # type: ignore[attr-defined]
        raise ApiError(403, "Only the rule's creator or an admin may change it")
    return rule


def _save(rule: AlertRule) -> AlertRule:
    try:
        with db.atomic():
            rule.save()
    except peewee.IntegrityError:
        raise ApiError(409, f"An alert rule named {rule.name!r} exists already") from None
    return rule


@rules_blp.route("")
class AlertRules(MethodView):
    @auth_required()
    @rules_blp.arguments(ListArgsSchema, location="query")
    @rules_blp.response(200, page_of(AlertRuleSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """Every alert rule, by name"""
        return page(AlertRule.select(AlertRule, User).join(User).order_by(AlertRule.name), args)

    @auth_required("alert:manage")
    @rules_blp.arguments(AlertRuleCreateSchema)
    @rules_blp.response(201, AlertRuleSchema)
    def post(self, body: dict[str, Any]) -> AlertRule:
        """Add a rule: an aggregation over a window compared with a threshold or a 7-day baseline"""
        return _save(AlertRule(created_by=current_user(), **body))


@rules_blp.route("/<int:rule_id>")
class AlertRuleItem(MethodView):
    @auth_required()
    @rules_blp.response(200, AlertRuleSchema)
    def get(self, rule_id: int) -> AlertRule:
        """One rule"""
        return _rule(rule_id)

    @auth_required("alert:manage")
    @rules_blp.arguments(AlertRuleUpdateSchema)
    @rules_blp.response(200, AlertRuleSchema)
    def put(self, body: dict[str, Any], rule_id: int) -> AlertRule:
        """Change a rule; giving a threshold drops the baseline factor, and the other way round"""
        rule = _editable(rule_id)
        for field, value in body.items():
            setattr(rule, field, value)
        if body.get("threshold") is not None:
            rule.baseline_factor = None
        if body.get("baseline_factor") is not None:
            rule.threshold = None
        if (rule.threshold is None) == (rule.baseline_factor is None):
            raise invalid("threshold", "Give exactly one of threshold and baseline_factor.")
        rule.updated_at = utc_naive()
        saved = _save(rule)
        if body.get("is_active") is False:
            close_rule_alerts(services().runtime, rule.id, "the rule was switched off")
        return saved

    @auth_required("alert:manage")
    @rules_blp.response(204)
    def delete(self, rule_id: int) -> None:
        """Remove a rule; its open alerts are resolved, and all its alerts stay, without it"""
        rule = _editable(rule_id)
        close_rule_alerts(services().runtime, rule.id, "the rule was deleted")
        rule.delete_instance()  # its alerts stay, with no rule_id: every cached list of them is stale
        cache_views.changed(services().redis, ALERT_VIEWS, None)


def _visible() -> Any:
    user = current_user()
    return Alert.select().where(Alert.visible_to(user.id, user.role == "admin"))


def _status(alert_id: int, read: Alert) -> str:
    """An alert's status now: read again if it was pending when read (another request may have moved it)."""
    return str(Alert.get_by_id(alert_id).status) if read.status == "pending" else str(read.status)


def _alert(alert_id: int) -> Alert:
    alert = _visible().where(Alert.id == alert_id).first()
    if alert is None:
        raise not_found("Alert", alert_id)
    return alert


@alerts_blp.route("")
class Alerts(MethodView):
    @auth_required()
    @alerts_blp.arguments(AlertListArgsSchema, location="query")
    @alerts_blp.response(200, page_of(AlertSchema))
    def get(self, args: dict[str, Any]) -> Response:
        """Alerts you may see (rule alerts, and those about what you own), newest first (cached 1 min; every
        change to an alert refreshes it)"""
        user = current_user()
        return cached_response("alerts_list", args, lambda: cache_views.alerts_page(user, args))


@alerts_blp.route("/summary")
class AlertsSummary(MethodView):
    @auth_required()
    @alerts_blp.response(200, AlertsSummarySchema)
    def get(self) -> Response:
        """Open alerts you may see, by severity and status, with the five newest (cached 1 min)"""
        user = current_user()
        return cached_response("alerts_summary", None, lambda: cache_views.alerts_summary(user))


@alerts_blp.route("/<int:alert_id>")
class AlertItem(MethodView):
    @auth_required()
    @alerts_blp.response(200, AlertSchema)
    def get(self, alert_id: int) -> Alert:
        """One alert, with its context (observed value, threshold or baseline, point count)"""
        return _alert(alert_id)


@alerts_blp.route("/acknowledge")
class Acknowledge(MethodView):
    @auth_required("alert:manage")
    @alerts_blp.arguments(AcknowledgeSchema)
    @alerts_blp.response(200, AcknowledgedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Acknowledge pending alerts; each id that cannot be says why"""
        ids = list(dict.fromkeys(body["alert_ids"]))
        found = {a.id: a for a in _visible().where(Alert.id << ids)}
        done = set(acknowledge(services().redis, list(found.values()), current_user().username))
        failures = [{"id": i, "reason": "not found" if i not in found else f"it is {_status(i, found[i])}"}
                    for i in ids if i not in done]
        return {"acknowledged": len(done), "failed": len(ids) - len(done), "failures": failures}


@alerts_blp.route("/<int:alert_id>/acknowledge")
class AcknowledgeOne(MethodView):
    @auth_required("alert:manage")
    @alerts_blp.response(200, AcknowledgedOneSchema)
    def post(self, alert_id: int) -> dict[str, Any]:
        """Acknowledge one pending alert (the seeds' route; `POST /alerts/acknowledge` takes many)"""
        alert = _alert(alert_id)
        if not acknowledge(services().redis, [alert], current_user().username):
            raise ApiError(409, f"Alert {alert_id} is {_status(alert_id, alert)}, not pending")
        acknowledged = _alert(alert_id)
        return {"message": f"Alert {alert_id} acknowledged", "acknowledged_at": acknowledged.acknowledged_at}


@alerts_blp.route("/<int:alert_id>/resolve")
class Resolve(MethodView):
    @auth_required("alert:manage")
    @alerts_blp.response(200, AlertSchema)
    def post(self, alert_id: int) -> Alert:
        """Resolve an open alert by hand (`alert.resolved` goes out)"""
        emitted = resolve(services().redis, _alert(alert_id), f"resolved by {current_user().username}")
        if emitted is None:
            raise ApiError(409, f"Alert {alert_id} is resolved already")
        publish(services().broker, emitted)
        return _alert(alert_id)
