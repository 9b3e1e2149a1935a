"""Manifests the kubectl compatibility tests feed to ``kubectl create -f`` / ``apply -f``, as YAML text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def deployment(name: str, *, replicas: int = 2, image: str = "nginx:1.25", labels: dict[str, str] | None = None,
               env: list[dict[str, str]] | None = None, extra_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    container: dict[str, Any] = {"name": "app", "image": image, "ports": [{"containerPort": 80, "name": "http"}]}
    if env is not None:
        container["env"] = env
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [container]}},
                 **(extra_spec or {})},
    }


def replicaset(name: str, *, replicas: int = 1, image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def replication_controller(name: str, *, replicas: int = 1, image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"app": name},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def service(name: str, *, port: int = 80, target: int = 8080, selector: dict[str, str] | None = None,
            type_: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": selector or {"app": name},
                            "ports": [{"name": "http", "port": port, "targetPort": target}]}
    if type_:
        spec["type"] = type_
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": name}},
            "spec": spec}


def configmap(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None,
              **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **meta}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data or {"key": "value"}}


def pod(name: str, *, image: str = "nginx", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def to_yaml(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def write(path: Path, *docs: dict[str, Any]) -> str:
    """Write ``docs`` as a multi-document YAML file; returns the path as a string for kubectl ``-f``."""
    path.write_text(to_yaml(*docs))
    return str(path)
