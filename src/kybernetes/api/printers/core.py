"""Printers for the simple kinds: Namespace, ConfigMap, Secret, ServiceAccount, Lease,
and the default table for kinds without a printer of their own.

Counts (DATA, SECRETS) are integer cells, as upstream sends them; the column
type still says ``string`` where upstream's does.  The default table is
upstream's ``defaultTableConvertor``: NAME and a "Created At" column of type
``date`` holding the creation time in RFC 3339 (kubectl renders it as AGE).

Pure module: no I/O.
"""

from __future__ import annotations

from kybernetes.api.printers.base import (
    AGE,
    CORE,
    META,
    NAME,
    Cells,
    Column,
    Obj,
    Printer,
    metadata,
    name_and_age,
    section,
)
from kybernetes.api.printers.timefmt import rfc3339_utc


def namespace_cells(ns: Obj, now: float) -> Cells:
    name, age = name_and_age(ns, now)
    return [name, str(section(ns, "status").get("phase") or ""), age]


def configmap_cells(cm: Obj, now: float) -> Cells:
    name, age = name_and_age(cm, now)
    return [name, len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age]


def secret_cells(secret: Obj, now: float) -> Cells:
    name, age = name_and_age(secret, now)
    return [name, str(secret.get("type") or ""), len(secret.get("data") or {}), age]


def serviceaccount_cells(sa: Obj, now: float) -> Cells:
    name, age = name_and_age(sa, now)
    return [name, len(sa.get("secrets") or []), age]


def lease_cells(lease: Obj, now: float) -> Cells:
    name, age = name_and_age(lease, now)
    return [name, str(section(lease, "spec").get("holderIdentity") or ""), age]


def scale_cells(scale: Obj, now: float) -> Cells:
    name, age = name_and_age(scale, now)
    return [name, section(scale, "spec").get("replicas", 0), section(scale, "status").get("replicas", 0), age]


def default_cells(obj: Obj, now: float) -> Cells:
    meta = metadata(obj)
    return [str(meta.get("name") or ""), rfc3339_utc(meta.get("creationTimestamp"))]


NAMESPACE = Printer(
    (NAME, Column("Status", "string", "The status of the namespace"), AGE),
    namespace_cells,
)
CONFIGMAP = Printer((NAME, Column("Data", "string", (CORE + "ConfigMap", "data")), AGE), configmap_cells)
SECRET = Printer(
    (
        NAME,
        Column("Type", "string", (CORE + "Secret", "type")),
        Column("Data", "string", (CORE + "Secret", "data")),
        AGE,
    ),
    secret_cells,
)
SERVICEACCOUNT = Printer(
    (NAME, Column("Secrets", "string", (CORE + "ServiceAccount", "secrets")), AGE),
    serviceaccount_cells,
)
LEASE = Printer(
    (NAME, Column("Holder", "string", ("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")), AGE),
    lease_cells,
)
DEFAULT = Printer(
    (NAME, Column("Created At", "date", (META, "creationTimestamp"))),
    default_cells,
)

SCALE = Printer(
    (NAME, Column("Desired", "integer", ("io.k8s.api.autoscaling.v1.ScaleSpec", "replicas")),
     Column("Available", "integer", ("io.k8s.api.autoscaling.v1.ScaleStatus", "replicas")), AGE),
    scale_cells,
)
