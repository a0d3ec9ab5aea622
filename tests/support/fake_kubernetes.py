"""A fake Kubernetes API server on 127.0.0.1 that answers with the API server's real JSON.

    with FakeKubernetes() as kube:
        kube.nodes = [node("node-1"), node("node-2", ready=False)]
        kube.pods = [pod("web-1"), pod("job-1", namespace="batch", waiting_reason="CrashLoopBackOff", restarts=4)]
        kube.node_usage = {"node-1": ("1500m", "8Gi")}
        ...  # point the poller at kube.url with `Authorization: Bearer {kube.token}`

Lists are sorted by (namespace/)name, as etcd returns them, and page like the real server: `?limit=N` sets
`metadata.continue` (base64 JSON of the resource version and the key to resume after) and
`metadata.remainingItemCount`; `?continue=` resumes; a token that does not decode, or one minted before
`expire_continue_tokens()`, answers 410 Expired. `fail_with = 503` makes every request fail with a Status.
To make the cluster unreachable, `stop()` the server: connections are then refused.
"""
from __future__ import annotations

import base64
import hashlib
import json
import ssl
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.support.fake_payloads import (
    FakeApiServer,
    JsonObject,
    Recorded,
    Reply,
    iso,
    json_reply,
    query_int,
    stable_sha,
)

DEFAULT_TOKEN = "k8s-test-token"
VERSION: JsonObject = {
    "major": "1", "minor": "29", "gitVersion": "v1.29.2", "gitCommit": "4b8e819355d791d96b7e9d9efe4cbafae2311c88",
    "gitTreeState": "clean", "buildDate": "2024-02-14T10:32:40Z", "goVersion": "go1.21.7", "compiler": "gc",
    "platform": "linux/amd64",
}
EXPIRED_MESSAGE = ("The provided continue parameter is too old to display a consistent list result. "
                   "You can start a new list without the continue parameter.")
_STATUS_REASONS = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "forbidden: User \"system:anonymous\" cannot list resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    410: ("Expired", EXPIRED_MESSAGE),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "an error on the server (\"\") has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}
_WAITING_MESSAGES = {
    "CrashLoopBackOff": "back-off 5m0s restarting failed container=app",
    "ImagePullBackOff": "Back-off pulling image \"ghcr.io/example/app:1.4.2\"",
    "ErrImagePull": "failed to pull and unpack image \"ghcr.io/example/app:1.4.2\"",
}
Key = Callable[[JsonObject], str]
Page = tuple[list[JsonObject], JsonObject]  # the items, and the list metadata


def _uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8s/{kind}/{name}"))


def _digest(seed: str) -> str:
    """A 64-hex-digit digest, as container ids and image digests are."""
    return hashlib.sha256(seed.encode()).hexdigest()


def _now() -> str:
    return iso(datetime.now(UTC))


def status_reply(code: int, message: str | None = None) -> Reply:
    """A `Status` object, the body of every error the API server returns."""
    reason, default = _STATUS_REASONS.get(code, ("InternalError" if code >= 500 else "BadRequest", f"error {code}"))
    body: JsonObject = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": message or default, "reason": reason, "code": code}
    if code == 404:
        body = {**body, "details": {}, "code": 404}
    return _k8s_reply(code, body)


def _k8s_reply(code: int, body: JsonObject) -> Reply:
    headers = {"Audit-Id": str(uuid.uuid4()), "Cache-Control": "no-cache, private",
               "X-Kubernetes-Pf-Flowschema-Uid": _uid("flowschema", "global-default"),
               "X-Kubernetes-Pf-Prioritylevel-Uid": _uid("prioritylevel", "global-default")}
    if code == 429:
        headers["Retry-After"] = "1"
    return json_reply(code, body, headers)


def _node_conditions(ready: bool | None, created: str) -> list[JsonObject]:
    heartbeat = _now()
    if ready is None:
        rows = [(kind, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
                for kind in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")]
    else:
        rows = [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status") if ready else
                ("Ready", "False", "KubeletNotReady", "container runtime network not ready: NetworkReady=false")]
    return [{"type": kind, "status": status, "lastHeartbeatTime": heartbeat, "lastTransitionTime": created,
             "reason": reason, "message": message} for kind, status, reason, message in rows]


def node(name: str, ready: bool | None = True, cpu: str = "4", memory: str = "16Gi",
         created: str = "2026-01-01T00:00:00Z") -> JsonObject:
    """A Node; `ready=None` is a node whose kubelet stopped reporting (conditions "Unknown").
    `allocatable` equals `capacity` (cpu, memory, 110 pods) so tests can reason about one number."""
    resources = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "102350Mi"}
    taints = [] if ready else [{"key": "node.kubernetes.io/" + ("not-ready" if ready is False else "unreachable"),
                                "effect": "NoSchedule", "timeAdded": created}]
    address = f"10.0.{int(stable_sha(name)[:2], 16)}.{int(stable_sha(name)[2:4], 16)}"
    return {
        "metadata": {"name": name, "uid": _uid("node", name), "resourceVersion": "1000", "creationTimestamp": created,
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                                "beta.kubernetes.io/arch": "amd64"},
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"], "taints": taints},
        "status": {
            "capacity": resources, "allocatable": dict(resources), "conditions": _node_conditions(ready, created),
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": stable_sha(f"machine-{name}")[:32], "systemUUID": _uid("system", name),
                         "bootID": _uid("boot", name), "kernelVersion": "6.5.0-1016-azure",
                         "osImage": "Ubuntu 22.04.4 LTS", "containerRuntimeVersion": "containerd://1.7.13",
                         "kubeletVersion": "v1.29.2", "kubeProxyVersion": "v1.29.2", "operatingSystem": "linux",
                         "architecture": "amd64"},
        },
    }


def _container_state(phase: str, waiting_reason: str | None, started: str) -> JsonObject:
    if waiting_reason:
        return {"waiting": {"reason": waiting_reason, "message": _WAITING_MESSAGES.get(waiting_reason, waiting_reason)}}
    if phase in ("Succeeded", "Failed"):
        code, reason = (0, "Completed") if phase == "Succeeded" else (1, "Error")
        return {"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": started}}
    if phase == "Pending":
        return {"waiting": {"reason": "ContainerCreating"}}
    return {"running": {"startedAt": started}}


def _container_status(name: str, image: str, state: JsonObject, ready: bool, restarts: int, created: str) -> JsonObject:
    last = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": created, "finishedAt": created,
                           "containerID": f"containerd://{_digest(f'last-{name}')}"}} if restarts else {}
    status = {"name": name, "state": state, "lastState": last, "ready": ready and "running" in state,
              "restartCount": restarts, "image": image, "imageID": f"{image}@sha256:{_digest(image)}",
              "started": "running" in state}
    return status if "waiting" in state else {**status, "containerID": f"containerd://{_digest(name)}"}


def _pod_conditions(scheduled: bool, ready: bool, unready: list[str], created: str) -> list[JsonObject]:
    if not scheduled:
        return [{"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": created,
                 "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]
    rows = [("PodReadyToStartContainers", True), ("Initialized", True), ("Ready", ready),
            ("ContainersReady", ready), ("PodScheduled", True)]
    conditions: list[JsonObject] = []
    for kind, ok in rows:
        condition = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None,
                     "lastTransitionTime": created}
        if not ok:
            condition |= {"reason": "ContainersNotReady",
                          "message": f"containers with unready status: [{' '.join(unready)}]"}
        conditions.append(condition)
    return conditions


def container_names(count: int) -> list[str]:
    """The names `pod()` gives its containers: "app", then "sidecar-1", "sidecar-2", ..."""
    return ["app", *(f"sidecar-{index}" for index in range(1, count))]


def pod(name: str, namespace: str = "default", phase: str = "Running", node: str | None = "node-1",
        ready: bool = True, restarts: int = 0, waiting_reason: str | None = None, containers: int = 1,
        created: str = "2026-01-01T00:00:00Z") -> JsonObject:
    """A Pod. `waiting_reason` (e.g. "CrashLoopBackOff") and `restarts` apply to the first container, "app";
    `node=None` with phase "Pending" is an unschedulable pod (no containerStatuses)."""
    names = container_names(containers)
    images = {cname: "ghcr.io/example/app:1.4.2" if cname == "app" else "docker.io/library/busybox:1.36"
              for cname in names}
    statuses = [_container_status(cname, images[cname],
                                  _container_state(phase, waiting_reason if cname == "app" else None, created),
                                  ready, restarts if cname == "app" else 0, created) for cname in names]
    unready = [status["name"] for status in statuses if not status["ready"]]
    scheduled = node is not None
    status: JsonObject = {"phase": phase, "conditions": _pod_conditions(scheduled, not unready, unready, created),
                          "qosClass": "BestEffort"}
    if scheduled:
        ip = f"10.244.0.{int(stable_sha(f'{namespace}/{name}')[:2], 16)}"
        status |= {"hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}], "podIP": ip, "podIPs": [{"ip": ip}],
                   "startTime": created, "containerStatuses": statuses}
    spec: JsonObject = {"containers": [{"name": cname, "image": images[cname], "resources": {},
                                        "imagePullPolicy": "IfNotPresent"} for cname in names],
                        "restartPolicy": "Always", "serviceAccountName": "default",
                        "schedulerName": "default-scheduler"}
    if scheduled:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": namespace, "uid": _uid("pod", f"{namespace}/{name}"),
                         "resourceVersion": "1000", "creationTimestamp": created, "labels": {"app": name}},
            "spec": spec, "status": status}


def _name(item: JsonObject) -> str:
    return str(item["metadata"]["name"])


def _namespaced(item: JsonObject) -> str:
    return f"{item['metadata'].get('namespace', '')}/{item['metadata']['name']}"


class FakeKubernetes(FakeApiServer):
    """The API server: /version, nodes, pods, namespaces and the metrics.k8s.io node and pod metrics.

    `node_usage` maps a node name to (cpu, memory) quantities; `pod_usage` maps (namespace, pod) to one
    (cpu, memory) per container, named as the pod in `pods` names them (else "container-N"). Only objects
    in those maps have metrics, as with metrics-server. `metrics_enabled = False` answers 404 there.
    """

    def __init__(self, token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(token or DEFAULT_TOKEN, ssl_context)
        self.nodes: list[JsonObject] = []
        self.pods: list[JsonObject] = []
        self.metrics_enabled = True
        self.node_usage: dict[str, tuple[str, str]] = {}
        self.pod_usage: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.fail_with: int | None = None
        self.version: JsonObject = dict(VERSION)
        self.resource_version = 52000
        self._oldest_continue = 0

    def expire_continue_tokens(self) -> None:
        """As after an etcd compaction: every continue token handed out so far now answers 410 Expired."""
        self.resource_version += 1
        self._oldest_continue = self.resource_version

    def answer(self, request: Recorded) -> Reply:
        if self.fail_with is not None:
            return status_reply(self.fail_with)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return status_reply(401)
        match request.path.strip("/").split("/"):
            case ["version"]:
                return _k8s_reply(200, self.version)
            case ["api", "v1", "nodes"]:
                return self._list(request, "NodeList", "v1", self.nodes, _name)
            case ["api", "v1", "pods"]:
                return self._list(request, "PodList", "v1", self.pods, _namespaced)
            case ["api", "v1", "namespaces", namespace, "pods"]:
                chosen = [item for item in self.pods if item["metadata"].get("namespace") == namespace]
                return self._list(request, "PodList", "v1", chosen, _namespaced)
            case ["api", "v1", "namespaces"]:
                return self._list(request, "NamespaceList", "v1", self._namespaces(), _name)
            case ["apis", "metrics.k8s.io", "v1beta1", *rest] if self.metrics_enabled:
                return self._metrics(request, rest)
        return status_reply(404)

    def _metrics(self, request: Recorded, rest: list[str]) -> Reply:
        match rest:
            case ["nodes"]:
                return self._list(request, "NodeMetricsList", "metrics.k8s.io/v1beta1", self._node_metrics(), _name)
            case ["pods"]:
                return self._list(request, "PodMetricsList", "metrics.k8s.io/v1beta1", self._pod_metrics(None),
                                  _namespaced)
            case ["namespaces", namespace, "pods"]:
                return self._list(request, "PodMetricsList", "metrics.k8s.io/v1beta1", self._pod_metrics(namespace),
                                  _namespaced)
        return status_reply(404)

    def _list(self, request: Recorded, kind: str, api_version: str, items: list[JsonObject], key: Key) -> Reply:
        page = self._page(sorted(items, key=key), key, request.query)
        if page is None:
            return status_reply(410)
        chosen, metadata = page
        return _k8s_reply(200, {"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": chosen})

    def _page(self, items: list[JsonObject], key: Key, query: dict[str, str]) -> Page | None:
        revision = self.resource_version
        if query.get("continue"):
            position = self._decode_continue(query["continue"])
            if position is None:
                return None
            revision, start = position
            items = [item for item in items if key(item) >= start]
        limit = query_int(query, "limit", 0, low=0)
        metadata: JsonObject = {"resourceVersion": str(revision)}
        if 0 < limit < len(items):
            token = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key(items[limit - 1]) + "\x00"})
            metadata["continue"] = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return items, metadata

    def _decode_continue(self, token: str) -> tuple[int, str] | None:
        try:
            data: Any = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except ValueError:  # bad base64, bad UTF-8 and bad JSON are all ValueErrors
            return None
        if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
            return None
        revision, start = data.get("rv"), data.get("start")
        if not isinstance(revision, int) or not isinstance(start, str) or revision < self._oldest_continue:
            return None
        return revision, start

    def _namespaces(self) -> list[JsonObject]:
        names = {"default", "kube-system"} | {item["metadata"].get("namespace", "default") for item in self.pods}
        return [{"metadata": {"name": name, "uid": _uid("namespace", name), "resourceVersion": "1000",
                              "creationTimestamp": "2026-01-01T00:00:00Z",
                              "labels": {"kubernetes.io/metadata.name": name}},
                 "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}} for name in names]

    def _node_metrics(self) -> list[JsonObject]:
        now = _now()
        return [{"metadata": {"name": name, "creationTimestamp": now, "labels": {"kubernetes.io/hostname": name}},
                 "timestamp": now, "window": "20.047s", "usage": {"cpu": cpu, "memory": memory}}
                for name, (cpu, memory) in self.node_usage.items()]

    def _pod_metrics(self, namespace: str | None) -> list[JsonObject]:
        now = _now()
        return [{"metadata": {"name": name, "namespace": space, "creationTimestamp": now, "labels": {"app": name}},
                 "timestamp": now, "window": "18.523s",
                 "containers": [{"name": cname, "usage": {"cpu": cpu, "memory": memory}}
                                for cname, (cpu, memory) in zip(self._container_names(space, name, len(usage)),
                                                                usage, strict=True)]}
                for (space, name), usage in self.pod_usage.items() if namespace in (None, space)]

    def _container_names(self, namespace: str, name: str, count: int) -> list[str]:
        for item in self.pods:
            if (item["metadata"].get("namespace"), item["metadata"]["name"]) == (namespace, name):
                names = [container["name"] for container in item["spec"]["containers"]]
                return (names + [f"container-{index}" for index in range(len(names), count)])[:count]
        return [f"container-{index}" for index in range(count)]
