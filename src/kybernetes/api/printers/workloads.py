"""Printers for the replica controllers: ReplicationController, ReplicaSet, Deployment.

RC and ReplicaSet print DESIRED CURRENT READY as integers; a Deployment prints
READY as ``ready/desired`` with UP-TO-DATE and AVAILABLE as integers.  The wide
columns list the pod template's containers and images and the selector, each in
the form upstream uses for that kind: a plain label map for RCs
(``labels.FormatLabels``), ``metav1.FormatLabelSelector`` for ReplicaSets, and the
bare selector string for Deployments (``<invalid>`` when it cannot be built).

An unset ``spec.replicas`` reads as 1, the value defaulting gives it.

Pure module: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.printers.base import (
    AGE,
    APPS,
    CONTAINERS_DOC,
    CORE,
    IMAGES_DOC,
    NAME,
    Cells,
    Column,
    Obj,
    Printer,
    count,
    name_and_age,
    section,
    wide,
)
from kybernetes.api.printers.text import (
    containers_and_images,
    format_label_selector,
    format_labels,
    selector_string,
)


def _desired(spec: Obj) -> int:
    replicas = spec.get("replicas")
    return 1 if replicas is None else count(replicas)


def _template_containers(spec: Obj) -> list[Any]:
    return section(section(spec, "template"), "spec").get("containers") or []


def _replica_cells(obj: Obj, now: float) -> tuple[str, Obj, Cells]:
    name, age = name_and_age(obj, now)
    spec = section(obj, "spec")
    status = section(obj, "status")
    names, images = containers_and_images(_template_containers(spec))
    cells: Cells = [name, _desired(spec), count(status.get("replicas")), count(status.get("readyReplicas")), age, names, images]
    return name, spec, cells


def replicationcontroller_cells(rc: Obj, now: float) -> Cells:
    _, spec, cells = _replica_cells(rc, now)
    return [*cells, format_labels(spec.get("selector"))]


def replicaset_cells(rs: Obj, now: float) -> Cells:
    _, spec, cells = _replica_cells(rs, now)
    return [*cells, format_label_selector(spec.get("selector"))]


def deployment_cells(deploy: Obj, now: float) -> Cells:
    name, age = name_and_age(deploy, now)
    spec = section(deploy, "spec")
    status = section(deploy, "status")
    names, images = containers_and_images(_template_containers(spec))
    selector = selector_string(spec.get("selector"))
    return [
        name,
        f"{count(status.get('readyReplicas'))}/{_desired(spec)}",
        count(status.get("updatedReplicas")),
        count(status.get("availableReplicas")),
        age,
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


def _replica_columns(spec: str, status: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column("Desired", "integer", (spec, "replicas")),
        Column("Current", "integer", (status, "replicas")),
        Column("Ready", "integer", (status, "readyReplicas")),
        AGE,
        wide("Containers", "string", CONTAINERS_DOC),
        wide("Images", "string", IMAGES_DOC),
        wide("Selector", "string", (spec, "selector")),
    )


REPLICATIONCONTROLLER = Printer(
    _replica_columns(CORE + "ReplicationControllerSpec", CORE + "ReplicationControllerStatus"),
    replicationcontroller_cells,
)
# upstream documents these columns from the extensions/v1beta1 types; apps/v1 carries the same docs
REPLICASET = Printer(_replica_columns(APPS + "ReplicaSetSpec", APPS + "ReplicaSetStatus"), replicaset_cells)
DEPLOYMENT = Printer(
    (
        NAME,
        Column("Ready", "string", "Number of the pod with ready state"),
        Column("Up-to-date", "string", (APPS + "DeploymentStatus", "updatedReplicas")),
        Column("Available", "string", (APPS + "DeploymentStatus", "availableReplicas")),
        AGE,
        wide("Containers", "string", CONTAINERS_DOC),
        wide("Images", "string", IMAGES_DOC),
        wide("Selector", "string", (APPS + "DeploymentSpec", "selector")),
    ),
    deployment_cells,
)
