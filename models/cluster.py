"""Kubernetes clusters Conveyor polls, and the latest snapshot of their nodes and pods.

A cluster belongs to the user who added it. Its bearer token is kept to call the cluster's API and is
never returned or logged. Each poll replaces the node and pod rows with what the cluster reported.
"""
from __future__ import annotations

import peewee

from models.db import BaseModel, utc_naive
from models.user import User

CLUSTER_STATUSES = ("unknown", "healthy", "unhealthy")


class Cluster(BaseModel):
    owner_id: int
    id = peewee.AutoField()
    owner = peewee.ForeignKeyField(User, backref="clusters", on_delete="CASCADE")
    name = peewee.CharField(max_length=63)
    api_url = peewee.CharField(max_length=2048)
    token = peewee.TextField()  # never returned after creation
    ca_cert = peewee.TextField(null=True)
    verify_ssl = peewee.BooleanField(default=True)
    poll_interval_seconds = peewee.IntegerField(default=30)
    status = peewee.CharField(max_length=16, default="unknown")
    last_error = peewee.TextField(null=True)
    version = peewee.CharField(max_length=64, null=True)
    node_count = peewee.IntegerField(default=0)
    pod_count = peewee.IntegerField(default=0)
    namespace_count = peewee.IntegerField(default=0)
    metrics_available = peewee.BooleanField(default=False)
    last_polled_at = peewee.DateTimeField(null=True)
    next_poll_at = peewee.DateTimeField(default=utc_naive, index=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("owner", "name"), True),)


class ClusterNode(BaseModel):
    id = peewee.AutoField()
    cluster = peewee.ForeignKeyField(Cluster, backref="nodes", on_delete="CASCADE")
    name = peewee.CharField(max_length=253)
    status = peewee.CharField(max_length=16)  # Ready | NotReady
    cpu_usage = peewee.DoubleField(null=True)  # percent of allocatable
    memory_usage = peewee.DoubleField(null=True)  # percent of allocatable
    pods = peewee.IntegerField(default=0)
    kubelet_version = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField(null=True)  # the node's creationTimestamp
    seen_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("cluster", "name"), True),)


class ClusterPod(BaseModel):
    id = peewee.AutoField()
    cluster = peewee.ForeignKeyField(Cluster, backref="pods", on_delete="CASCADE")
    namespace = peewee.CharField(max_length=253)
    name = peewee.CharField(max_length=253)
    status = peewee.CharField(max_length=64)  # the phase, or a container's waiting reason
    phase = peewee.CharField(max_length=16)
    ready = peewee.BooleanField(default=False)
    restarts = peewee.IntegerField(default=0)
    node_name = peewee.CharField(max_length=253, null=True)
    cpu_usage = peewee.DoubleField(null=True)  # millicores
    memory_usage = peewee.DoubleField(null=True)  # MiB
    created_at = peewee.DateTimeField(null=True)
    seen_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("cluster", "namespace", "name"), True), (("cluster", "status"), False))
