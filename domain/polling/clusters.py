"""Poll one cluster: read it, replace its node and pod snapshot, and raise or resolve its alerts.

Alerts (one open per key, resolved when the condition clears or the object is gone):
- `kubernetes.node_not_ready` (CRITICAL) for a node whose Ready condition is not True;
- `kubernetes.pod_crash_looping` (CRITICAL) for a pod waiting in CrashLoopBackOff;
- `kubernetes.pod_restarts` (WARNING) for a pod restarted KUBERNETES_RESTART_ALERT_THRESHOLD times or more;
- `kubernetes.cluster_unreachable` (WARNING) while a poll fails.
"""
from __future__ import annotations

import logging
from typing import Any

from core.runtime import Runtime
from domain import alerting
from domain.events import publish
from domain.polling.http import Api, PollError, ca_bundle
from domain.polling.kubernetes import Snapshot, read_cluster
from domain.polling.observed import observed
from models.alert import Alert
from models.cluster import Cluster, ClusterNode, ClusterPod
from models.db import db, utc_naive

log = logging.getLogger(__name__)


def poll(rt: Runtime, cluster: Cluster) -> dict[str, Any]:
    """Read the cluster and record what it said, or mark it unhealthy with the error."""
    return observed(rt.redis, "kubernetes", lambda: _poll(rt, cluster))


def _poll(rt: Runtime, cluster: Cluster) -> dict[str, Any]:
    settings = rt.settings
    try:
        with ca_bundle(cluster.ca_cert, cluster.verify_ssl) as verify:
            api = Api(cluster.api_url, {"Authorization": f"Bearer {cluster.token}", "Accept": "application/json"},
                      timeout=settings.poll_timeout_seconds, verify=verify, allow_private=settings.poll_allow_private)
            try:
                snapshot = read_cluster(api)
            finally:
                api.close()
        stored = _store(cluster, snapshot)
    except PollError as exc:
        return _unhealthy(rt, cluster, str(exc))
    except Exception as exc:  # an answer we could not make sense of; its text may quote what we sent
        return _unhealthy(rt, cluster, f"unreadable answer: {type(exc).__name__}")
    if not stored:
        return {"cluster": cluster.name, "status": "deleted"}
    raised, resolved = _alerts(rt, cluster, _firing(cluster, snapshot, settings.restart_alert_threshold))
    return {"cluster": cluster.name, "status": "healthy", "nodes": len(snapshot.nodes), "pods": len(snapshot.pods),
            "alerts_raised": raised, "alerts_resolved": resolved}


def _unhealthy(rt: Runtime, cluster: Cluster, error: str) -> dict[str, Any]:
    log.warning("cluster poll failed", extra={"cluster_id": cluster.id, "error": error})
    now = utc_naive()
    with db.atomic():
        marked = Cluster.update(status="unhealthy", last_error=error, last_polled_at=now,
                                updated_at=now).where(Cluster.id == cluster.id).execute()
    result = {"cluster": cluster.name, "status": "unhealthy", "error": error}
    if not marked:  # deleted while we polled: no alert may outlive it
        return result
    firing = {_key(cluster, "cluster_unreachable", ""): {
        "rule_name": "kubernetes.cluster_unreachable", "metric": "kubernetes.cluster", "severity": "WARNING",
        "tags": {"cluster": cluster.name}, "message": f"Cluster {cluster.name} cannot be polled: {error}",
        "context": {"cluster": cluster.name, "error": error}}}
    _alerts(rt, cluster, firing, only="cluster_unreachable")
    return result


def _store(cluster: Cluster, snapshot: Snapshot) -> bool:
    """Replace the snapshot; False when the cluster was deleted meanwhile (nothing is written then)."""
    now = utc_naive()
    with db.atomic():
        if not Cluster.select().where(Cluster.id == cluster.id).exists():
            return False
        ClusterNode.delete().where(ClusterNode.cluster == cluster.id).execute()
        ClusterPod.delete().where(ClusterPod.cluster == cluster.id).execute()
        for start in range(0, len(snapshot.nodes), 200):
            ClusterNode.insert_many([{**n, "cluster": cluster.id, "seen_at": now}
                                     for n in snapshot.nodes[start:start + 200]]).execute()
        for start in range(0, len(snapshot.pods), 200):
            ClusterPod.insert_many([{**p, "cluster": cluster.id, "seen_at": now}
                                    for p in snapshot.pods[start:start + 200]]).execute()
        Cluster.update(status="healthy", last_error=None, version=snapshot.version, node_count=len(snapshot.nodes),
                       pod_count=len(snapshot.pods), namespace_count=snapshot.namespaces,
                       metrics_available=snapshot.metrics, last_polled_at=now,
                       updated_at=now).where(Cluster.id == cluster.id).execute()
    return True


def _key(cluster: Cluster, kind: str, subject: str) -> str:
    return f"k8s|{cluster.id}|{kind}|{subject}"


def _firing(cluster: Cluster, snapshot: Snapshot, restart_threshold: int) -> dict[str, dict[str, Any]]:
    """Every alert whose condition holds now, by open key."""
    firing: dict[str, dict[str, Any]] = {}
    for node in snapshot.nodes:
        if node["status"] != "Ready":
            firing[_key(cluster, "node_not_ready", node["name"])] = {
                "rule_name": "kubernetes.node_not_ready", "metric": "kubernetes.node", "severity": "CRITICAL",
                "tags": {"cluster": cluster.name, "node": node["name"]},
                "message": f"Node {node['name']} in cluster {cluster.name} is NotReady",
                "context": {"cluster": cluster.name, "node": node["name"], "status": node["status"]}}
    for pod in snapshot.pods:
        subject = f"{pod['namespace']}/{pod['name']}"
        tags = {"cluster": cluster.name, "namespace": pod["namespace"], "pod": pod["name"]}
        context = {**tags, "status": pod["status"], "restarts": pod["restarts"], "node": pod["node_name"]}
        if pod["status"] == "CrashLoopBackOff":
            firing[_key(cluster, "pod_crash_looping", subject)] = {
                "rule_name": "kubernetes.pod_crash_looping", "metric": "kubernetes.pod", "severity": "CRITICAL",
                "tags": tags, "context": context,
                "message": f"Pod {subject} in cluster {cluster.name} is crash-looping ({pod['restarts']} restarts)"}
        if pod["restarts"] >= restart_threshold:
            firing[_key(cluster, "pod_restarts", subject)] = {
                "rule_name": "kubernetes.pod_restarts", "metric": "kubernetes.pod.restarts", "severity": "WARNING",
                "tags": tags, "context": {**context, "threshold": restart_threshold},
                "message": f"Pod {subject} in cluster {cluster.name} restarted {pod['restarts']} times"}
    return firing


def _alerts(rt: Runtime, cluster: Cluster, firing: dict[str, dict[str, Any]],
            only: str | None = None) -> tuple[int, int]:
    """Raise what fires and is not open; resolve what is open and no longer fires (of kind `only`, if given)."""
    prefix = _key(cluster, only, "") if only else f"k8s|{cluster.id}|"
    open_alerts: dict[str, Alert] = {str(a.open_key): a for a in
                                     Alert.select().where(Alert.open_key.startswith(prefix))}
    raised = resolved = 0
    for key, fields in firing.items():
        if key not in open_alerts:
            emitted = alerting.raise_alert(rt.redis, key, owner_id=cluster.owner_id, **fields)
            raised += emitted is not None
            publish(rt.broker, emitted)
    for key, alert in open_alerts.items():
        if key not in firing:
            gone = alerting.resolve(rt.redis, alert, "the condition cleared")
            resolved += gone is not None
            publish(rt.broker, gone)
    return raised, resolved


def close_alerts(rt: Runtime, cluster: Cluster) -> int:
    """Resolve every open alert of a cluster that is going away (nothing would resolve them after)."""
    return _alerts(rt, cluster, {})[1]
