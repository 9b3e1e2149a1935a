"""Server-side printing: the columns and cells ``kubectl get`` shows for each kind.

Upstream's API server answers ``Accept: application/json;as=Table;g=meta.k8s.io``
with rows computed by ``pkg/printers/internalversion/printers.go``; kubectl
only lays them out.  This package is our copy of that behaviour, one module per
family of kinds, each exporting :class:`~kybernetes.api.printers.base.Printer`
values (columns + a cell function).  :data:`PRINTERS` maps ``(group, kind)`` to
its printer; kinds without one fall back to :data:`DEFAULT`, upstream's
"Name / Created At" table.  The Table envelope itself is built in
:mod:`kybernetes.api.tables`.

Layering: ``timefmt`` and ``text`` are leaf helpers; ``base`` defines the
printer shape; the per-kind modules use those three only.

Pure package: no I/O (column descriptions come from the cached schema read).
"""

from __future__ import annotations

from kybernetes.api.printers.base import Column, Printer
from kybernetes.api.printers.core import CONFIGMAP, DEFAULT, LEASE, NAMESPACE, SCALE, SECRET, SERVICEACCOUNT
from kybernetes.api.printers.events import EVENT, EVENT_V1
from kybernetes.api.printers.network import ENDPOINTS, ENDPOINTSLICE, SERVICE
from kybernetes.api.printers.nodes import NODE
from kybernetes.api.printers.pods import POD
from kybernetes.api.printers.text import format_label_selector, format_labels
from kybernetes.api.printers.timefmt import human_duration
from kybernetes.api.printers.workloads import DEPLOYMENT, REPLICASET, REPLICATIONCONTROLLER

# Keyed by group and kind, not version: upstream prints the internal object, so
# every served version of a kind shares one printer.
PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Namespace"): NAMESPACE,
    ("", "Pod"): POD,
    ("", "Node"): NODE,
    ("", "Service"): SERVICE,
    ("", "Endpoints"): ENDPOINTS,
    ("", "ConfigMap"): CONFIGMAP,
    ("", "Secret"): SECRET,
    ("", "ServiceAccount"): SERVICEACCOUNT,
    ("", "Event"): EVENT,
    ("events.k8s.io", "Event"): EVENT_V1,
    ("", "ReplicationController"): REPLICATIONCONTROLLER,
    ("apps", "Deployment"): DEPLOYMENT,
    ("apps", "ReplicaSet"): REPLICASET,
    ("coordination.k8s.io", "Lease"): LEASE,
    ("discovery.k8s.io", "EndpointSlice"): ENDPOINTSLICE,
    ("autoscaling", "Scale"): SCALE,
}


def printer(group: str, kind: str) -> Printer:
    """The printer for a kind; the default Name/Created At table when it has none."""
    return PRINTERS.get((group, kind), DEFAULT)


__all__ = [
    "DEFAULT",
    "PRINTERS",
    "Column",
    "Printer",
    "format_label_selector",
    "format_labels",
    "human_duration",
    "printer",
]
