"""Reading a cluster: `/version`, nodes, pods and namespaces (paged with `limit`/`continue`), and usage from
`metrics.k8s.io` when that API answers. Returns plain snapshots; `clusters.py` stores them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.polling.http import Api, PollError, failure, json_body, timestamp
from domain.polling.quantity import parse_quantity

PAGE = 500
MAX_PAGES = 200  # 100,000 objects of a kind
MIB = 2 ** 20


@dataclass
class Snapshot:
    version: str | None
    nodes: list[dict[str, Any]]
    pods: list[dict[str, Any]]
    namespaces: int
    metrics: bool


def read_cluster(api: Api) -> Snapshot:
    version = clip(_get(api, "/version").get("gitVersion"), 64)
    nodes, pods = _list(api, "/api/v1/nodes"), _list(api, "/api/v1/pods")
    namespaces = len(_list(api, "/api/v1/namespaces"))
    node_usage, pod_usage = _usage(api, "nodes"), _usage(api, "pods")
    metrics = node_usage is not None or pod_usage is not None
    pod_rows = [pod_row(pod, (pod_usage or {}).get(_pod_key(pod))) for pod in pods]
    per_node: dict[str, int] = {}
    for row in pod_rows:
        if row["node_name"]:
            per_node[row["node_name"]] = per_node.get(row["node_name"], 0) + 1
    node_rows = [node_row(node, (node_usage or {}).get(node["metadata"]["name"]), per_node) for node in nodes]
    return Snapshot(version, node_rows, pod_rows, namespaces, metrics)


def clip(value: Any, length: int) -> str | None:
    """Text for a bounded column (PostgreSQL refuses what is longer, and NUL anywhere)."""
    return None if value is None else str(value).replace("\x00", "")[:length]


def _get(api: Api, path: str, params: dict[str, Any] | None = None) -> Any:
    response = api.get(path, params)
    if response.status_code != 200:
        raise failure(response, path)
    body = json_body(response, path)
    if not isinstance(body, dict):
        raise PollError(f"GET {path}: unexpected JSON")
    return body


def _list(api: Api, path: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page by page."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": PAGE}
    for _ in range(MAX_PAGES):
        body = _get(api, path, params)
        items.extend(item for item in body.get("items") or [] if isinstance(item, dict))
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return items
        if token == params.get("continue"):
            raise PollError(f"GET {path}: the server repeated its continue token")
        params = {"limit": PAGE, "continue": token}
    raise PollError(f"GET {path}: more than {MAX_PAGES * PAGE} items")


def _usage(api: Api, kind: str) -> dict[Any, Any] | None:
    """Usage by node name, or by (namespace, pod) summed over containers; None without metrics-server."""
    path = f"/apis/metrics.k8s.io/v1beta1/{kind}"
    try:
        items = _list(api, path)
    except PollError:
        return None
    usage: dict[Any, Any] = {}
    for item in items:
        meta = item.get("metadata") or {}
        if kind == "nodes":
            usage[meta.get("name")] = _cpu_memory(item.get("usage") or {})
        else:
            parts = [_cpu_memory(c.get("usage") or {}) for c in item.get("containers") or []]
            usage[(meta.get("namespace"), meta.get("name"))] = (
                sum(p[0] or 0.0 for p in parts), sum(p[1] or 0.0 for p in parts))
    return usage


def _cpu_memory(usage: dict[str, Any]) -> tuple[float | None, float | None]:
    return parse_quantity(usage.get("cpu")), parse_quantity(usage.get("memory"))


def _pod_key(pod: dict[str, Any]) -> tuple[str | None, str | None]:
    meta = pod.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def node_row(node: dict[str, Any], usage: tuple[float | None, float | None] | None,
             per_node: dict[str, int]) -> dict[str, Any]:
    """Ready or NotReady from the node's Ready condition; usage as a percentage of allocatable."""
    meta, status = node.get("metadata") or {}, node.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    cpu, memory = usage or (None, None)
    return {"name": meta.get("name"), "status": "Ready" if ready else "NotReady",
            "cpu_usage": _percent(cpu, parse_quantity(allocatable.get("cpu"))),
            "memory_usage": _percent(memory, parse_quantity(allocatable.get("memory"))),
            "pods": per_node.get(meta.get("name", ""), 0),
            "kubelet_version": clip((status.get("nodeInfo") or {}).get("kubeletVersion"), 64),
            "created_at": timestamp(meta.get("creationTimestamp"))}


def _percent(used: float | None, total: float | None) -> float | None:
    return None if used is None or not total else round(100.0 * used / total, 1)


def pod_row(pod: dict[str, Any], usage: tuple[float, float] | None) -> dict[str, Any]:
    """Status is the phase, unless a container waits with a reason (CrashLoopBackOff, ImagePullBackOff)."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    waiting = [((c.get("state") or {}).get("waiting") or {}).get("reason") for c in containers]
    reason = next((w for w in waiting if w and w not in ("ContainerCreating", "PodInitializing")), None)
    phase = status.get("phase") or "Unknown"
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "status": clip(reason or phase, 64),
            "phase": clip(phase, 16), "ready": ready,
            "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
            "node_name": (pod.get("spec") or {}).get("nodeName"),
            "cpu_usage": None if usage is None else round(usage[0] * 1000, 1),
            "memory_usage": None if usage is None else round(usage[1] / MIB, 1),
            "created_at": timestamp(meta.get("creationTimestamp"))}
