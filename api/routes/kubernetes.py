"""Kubernetes clusters: add one (its token is never shown again), read the nodes and pods its last poll
found, poll it now. A cluster is its creator's (admins see all); names are unique per owner."""
from __future__ import annotations

from typing import Any

import peewee
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth.guard import auth_required, current_user
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
from models.cluster import Cluster, ClusterNode, ClusterPod
from models.db import db, utc_naive
from workers.polling import clusters

blp = Blueprint("kubernetes", __name__, url_prefix="/api/v1/kubernetes", description="Kubernetes clusters polled")


def _visible() -> Any:
    user = current_user()
    return Cluster.select() if user.role == "admin" else Cluster.select().where(Cluster.owner == user.id)


def _get(name: str) -> Cluster:
    """Your cluster of that name (an admin without one of that name gets the oldest cluster so named)."""
    user = current_user()
    cluster = (Cluster.get_or_none((Cluster.owner == user.id) & (Cluster.name == name))
               or _visible().where(Cluster.name == name).order_by(Cluster.id).first())
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
        clusters.close_alerts(cluster)
        with db.atomic():
            cluster.delete_instance(recursive=True)


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
        message = services().broker.get_actor("poll_cluster").send(cluster.id)
        return {"status": "queued", "message_id": message.message_id}
