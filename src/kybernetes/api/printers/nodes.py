"""The Node printer: NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.

STATUS is ``Ready`` or ``NotReady`` from the Ready condition (``Unknown`` when
the node never reported one), with ``SchedulingDisabled`` appended for a
cordoned node: ``Ready,SchedulingDisabled``.  ROLES are collected from
``node-role.kubernetes.io/<role>`` label keys and the legacy
``kubernetes.io/role=<role>`` label, sorted and de-duplicated.

Pure module: no I/O.
"""

from __future__ import annotations

from kybernetes.api.printers.base import AGE, CORE, NAME, Cells, Column, Obj, Printer, metadata, section, wide
from kybernetes.api.printers.text import NONE
from kybernetes.api.printers.timefmt import since

ROLE_PREFIX = "node-role.kubernetes.io/"
LEGACY_ROLE_LABEL = "kubernetes.io/role"


def node_roles(labels: Obj | None) -> list[str]:
    roles: set[str] = set()
    for key, value in (labels or {}).items():
        if key.startswith(ROLE_PREFIX):
            role = key[len(ROLE_PREFIX):]
            if role:
                roles.add(role)
        elif key == LEGACY_ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def _address(addresses: list[Obj], kind: str) -> str:
    for address in addresses:
        if isinstance(address, dict) and address.get("type") == kind:
            return str(address.get("address") or "")
    return NONE


def node_cells(node: Obj, now: float) -> Cells:
    meta = metadata(node)
    status = section(node, "status")
    info = section(status, "nodeInfo")

    ready = None
    for condition in status.get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            ready = condition  # upstream indexes conditions by type: the last one wins
    states = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if section(node, "spec").get("unschedulable"):
        states.append("SchedulingDisabled")

    addresses = status.get("addresses") or []
    return [
        str(meta.get("name") or ""),
        ",".join(states),
        ",".join(node_roles(meta.get("labels"))) or NONE,
        since(meta.get("creationTimestamp"), now),
        str(info.get("kubeletVersion") or ""),
        _address(addresses, "InternalIP"),
        _address(addresses, "ExternalIP"),
        str(info.get("osImage") or "") or "<unknown>",
        str(info.get("kernelVersion") or "") or "<unknown>",
        str(info.get("containerRuntimeVersion") or "") or "<unknown>",
    ]


_INFO = CORE + "NodeSystemInfo"

NODE = Printer(
    (
        NAME,
        Column("Status", "string", "The status of the node"),
        Column("Roles", "string", "The roles of the node"),
        AGE,
        Column("Version", "string", (_INFO, "kubeletVersion")),
        wide("Internal-IP", "string", (CORE + "NodeStatus", "addresses")),
        wide("External-IP", "string", (CORE + "NodeStatus", "addresses")),
        wide("OS-Image", "string", (_INFO, "osImage")),
        wide("Kernel-Version", "string", (_INFO, "kernelVersion")),
        wide("Container-Runtime", "string", (_INFO, "containerRuntimeVersion")),
    ),
    node_cells,
)
