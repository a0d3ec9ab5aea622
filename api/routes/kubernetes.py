"""Kubernetes clusters: add one (its token is never shown again), read the nodes and pods its last poll
found, poll it now. A cluster is its creator's (admins see all); names are unique per owner."""
from __future__ import annotations

from typing import Any

import peewee
from flask import request
from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import ApiError, not_found
from api.schemas.common import ListArgsSchema, page, page_of
from api.schemas.polling import (
    ClusterCreateSchema,
    ClusterSchema,
    ClusterUpdateSchema,
    NodeSchema,
    PodArgsSchema,
    PodSchema,
    PollQueuedSchema,
)
from api.services import services
from api.targets import check_api_url
from domain.polling import clusters
from domain.polling.due import poll_lock
from models.cluster import Cluster, ClusterNode, ClusterPod
from models.db import db, utc_naive
from models.user import User
from workers.polling import poll_cluster

blp = Blueprint("kubernetes", __name__, url_prefix="/api/v1/kubernetes", description="Kubernetes clusters polled")


def _visible() -> Any:
    user = current_user()
    return Cluster.select() if user.role == "admin" else Cluster.select().where(Cluster.owner == user.id)


def _get(name: str) -> Cluster:
    """Your cluster of that name. An admin reaches another user's with `?owner=<username>`, or without it
    when only one cluster has that name (several: 409, naming the owners)."""
    user = current_user()
    owner = request.args.get("owner")
    own = Cluster.get_or_none((Cluster.owner == user.id) & (Cluster.name == name))
    if user.role != "admin" or (owner is None and own is not None):
        cluster = own
    else:
        query = Cluster.select(Cluster, User).join(User).where(Cluster.name == name)
        matches = list(query.where(User.username == owner) if owner is not None else query)
        if len(matches) > 1:
            owners = ", ".join(sorted(c.owner.username for c in matches))
            raise ApiError(409, f"{len(matches)} clusters are named {name} (owners: {owners}); add ?owner=")
        cluster = matches[0] if matches else None
    if cluster is None:
        raise not_found("Cluster", name)
    return cluster


@blp.route("/clusters")
class Clusters(MethodView):
    @auth_required()
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, page_of(ClusterSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """Your clusters (all for admins), newest first, with what the last poll found"""
        return page(_visible().order_by(Cluster.id.desc()), args)

    @auth_required("cluster:manage")
    @blp.arguments(ClusterCreateSchema)
    @blp.response(201, ClusterSchema)
    def post(self, body: dict[str, Any]) -> Cluster:
        """Add a cluster to poll; the token is kept to call its API and never returned"""
        check_api_url(body)
        try:
            with db.atomic():
                return Cluster.create(owner=current_user().id, **body)
        except peewee.IntegrityError:
            raise ApiError(409, f"You already have a cluster named {body['name']}") from None


@blp.route("/clusters/<string:name>")
class ClusterItem(MethodView):
    @auth_required()
    @blp.response(200, ClusterSchema)
    def get(self, name: str) -> Cluster:
        """One cluster"""
        return _get(name)

    @auth_required("cluster:manage")
    @blp.arguments(ClusterUpdateSchema)
    @blp.response(200, ClusterSchema)
    def patch(self, body: dict[str, Any], name: str) -> Cluster:
        """Change a cluster's URL, token, CA, TLS check or poll interval"""
        check_api_url(body)
        cluster = _get(name)
        with db.atomic():
            Cluster.update(**body, updated_at=utc_naive()).where(Cluster.id == cluster.id).execute()
        return Cluster.get_by_id(cluster.id)

    @auth_required("cluster:manage")
    @blp.response(204)
    def delete(self, name: str) -> None:
        """Stop polling a cluster and forget its snapshot; its open alerts are resolved"""
        cluster = _get(name)
        lock = poll_lock(services().redis, "poll_cluster", cluster.id)
        if not lock.acquire(blocking_timeout=30):  # a poll in flight finishes first
            raise ApiError(409, f"Cluster {name} is being polled; try again in a moment")
        try:
            with db.atomic():
                cluster.delete_instance(recursive=True)
            clusters.close_alerts(services().runtime, cluster)
        finally:
            lock.release()


@blp.route("/clusters/<string:name>/nodes")
class Nodes(MethodView):
    @auth_required()
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, page_of(NodeSchema))
    def get(self, args: dict[str, int], name: str) -> dict[str, Any]:
        """The cluster's nodes as of its last poll, by name"""
        cluster = _get(name)
        return page(ClusterNode.select().where(ClusterNode.cluster == cluster.id).order_by(ClusterNode.name), args)


@blp.route("/clusters/<string:name>/pods")
class Pods(MethodView):
    @auth_required()
    @blp.arguments(PodArgsSchema, location="query")
    @blp.response(200, page_of(PodSchema))
    def get(self, args: dict[str, Any], name: str) -> dict[str, Any]:
        """The cluster's pods as of its last poll, by namespace and name; filter by namespace and status"""
        cluster = _get(name)
        query = ClusterPod.select().where(ClusterPod.cluster == cluster.id)
        if "namespace" in args:
            query = query.where(ClusterPod.namespace == args["namespace"])
        if "status" in args:
            query = query.where(ClusterPod.status == args["status"])
        return page(query.order_by(ClusterPod.namespace, ClusterPod.name), args)


@blp.route("/clusters/<string:name>/poll")
class PollCluster(MethodView):
    @auth_required("cluster:manage")
    @blp.response(202, PollQueuedSchema)
    def post(self, name: str) -> dict[str, str]:
        """Poll the cluster now (a worker does it; read the cluster back for the outcome)"""
        cluster = _get(name)
        message = poll_cluster.send(cluster.id)
        return {"status": "queued", "message_id": message.message_id}
