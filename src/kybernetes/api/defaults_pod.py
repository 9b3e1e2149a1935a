"""Defaulting of pods and pod templates, as upstream's core/v1 defaulters do it.

Upstream runs generated defaulters after decoding every write.  For a Pod
they call ``SetDefaults_Pod`` (pod-only defaults: requests from limits,
``enableServiceLinks``, host ports under ``hostNetwork``) and then the
``PodSpec`` defaulters that every embedded ``PodTemplateSpec`` also gets
(Deployment, ReplicaSet, ReplicationController): DNS and restart policy,
scheduler, grace period, per-container, per-probe and per-volume defaults,
plus the declarative ``+default=`` markers of k8s.io/api 1.33 (port protocol,
gRPC probe service, legacy volume plugins, ...).  So :func:`pod` is
:func:`pod_spec` plus the pod-only part, and templates get :func:`pod_spec`.

Rules copied from Go's zero-value semantics: a string or non-pointer int field
is defaulted when absent *or* zero (``""``, ``0``); a pointer field only when
absent, so an explicit ``0`` or ``false`` stays.  Explicit values are never
overwritten.  Quantity rounding (``SetDefaults_ResourceList``) is not done here.

Every function mutates the dict it is given and returns nothing.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Obj = dict[str, Any]

TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE_PERIOD = 30
VOLUME_DEFAULT_MODE = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
TOKEN_EXPIRATION_SECONDS = 3600


# --------------------------------------------------------------------------- small helpers


def set_if_empty(obj: Obj, key: str, value: Any) -> None:
    """Default a Go string / non-pointer number: absent, ``""`` and ``0`` all count as unset."""
    if not obj.get(key):
        obj[key] = value


def set_if_absent(obj: Obj, key: str, value: Any) -> None:
    """Default a Go pointer field: only absence (or null) counts as unset."""
    if obj.get(key) is None:
        obj[key] = value


def dicts(value: Any) -> list[Obj]:
    """The object items of a list field (tolerating absence and junk)."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def child(obj: Obj, key: str) -> Obj | None:
    sub = obj.get(key)
    return sub if isinstance(sub, dict) else None


# --------------------------------------------------------------------------- image references

# The docker reference grammar (distribution/reference), enough to find the tag.
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?\Z"
)


def image_tag(image: str) -> str:
    """The tag of ``image`` as kubelet's ParseImageName sees it.

    ``latest`` when neither tag nor digest is given; ``""`` for digest-only or
    unparsable references (upstream ignores the parse error).
    """
    m = _REFERENCE.match(image)
    if m is None:
        return ""
    if m.group("tag"):
        return m.group("tag")
    return "" if m.group("digest") else "latest"


def pull_policy(image: Any) -> str:
    """``Always`` for ``:latest`` (explicit or implied), else ``IfNotPresent``."""
    return "Always" if isinstance(image, str) and image_tag(image) == "latest" else "IfNotPresent"


# --------------------------------------------------------------------------- containers


def http_get(action: Obj | None) -> None:
    if action is not None:
        set_if_empty(action, "path", "/")
        set_if_empty(action, "scheme", "HTTP")


def probe(p: Obj | None) -> None:
    if p is None:
        return
    set_if_empty(p, "timeoutSeconds", 1)
    set_if_empty(p, "periodSeconds", 10)
    set_if_empty(p, "successThreshold", 1)
    set_if_empty(p, "failureThreshold", 3)
    http_get(child(p, "httpGet"))
    grpc = child(p, "grpc")
    if grpc is not None:
        set_if_absent(grpc, "service", "")  # +default="" on a *string: shows up as service: ""


def container(c: Obj) -> None:
    """SetDefaults_Container plus the generated per-field defaults of one container."""
    set_if_empty(c, "imagePullPolicy", pull_policy(c.get("image")))
    set_if_empty(c, "terminationMessagePath", TERMINATION_MESSAGE_PATH)
    set_if_empty(c, "terminationMessagePolicy", "File")
    for port in dicts(c.get("ports")):
        set_if_empty(port, "protocol", "TCP")
    for env in dicts(c.get("env")):
        value_from = child(env, "valueFrom")
        field_ref = child(value_from, "fieldRef") if value_from else None
        if field_ref is not None:
            set_if_empty(field_ref, "apiVersion", "v1")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe(child(c, key))
    lifecycle = child(c, "lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            handler = child(lifecycle, hook)
            if handler is not None:
                http_get(child(handler, "httpGet"))


# --------------------------------------------------------------------------- volumes


def _field_refs(items: Any) -> None:
    for item in dicts(items):
        ref = child(item, "fieldRef")
        if ref is not None:
            set_if_empty(ref, "apiVersion", "v1")


def _projected(source: Obj) -> None:
    set_if_absent(source, "defaultMode", VOLUME_DEFAULT_MODE)
    for projection in dicts(source.get("sources")):
        downward = child(projection, "downwardAPI")
        if downward is not None:
            _field_refs(downward.get("items"))
        token = child(projection, "serviceAccountToken")
        if token is not None:
            set_if_absent(token, "expirationSeconds", TOKEN_EXPIRATION_SECONDS)


def volume(v: Obj) -> None:
    """SetDefaults_Volume and the defaults of each volume source kind."""
    if not any(key != "name" for key in v):
        v["emptyDir"] = {}  # no source given at all
    if (image := child(v, "image")) is not None:
        set_if_empty(image, "pullPolicy", pull_policy(image.get("reference")))
    if (host_path := child(v, "hostPath")) is not None:
        set_if_absent(host_path, "type", "")
    for kind in ("secret", "configMap"):
        if (source := child(v, kind)) is not None:
            set_if_absent(source, "defaultMode", VOLUME_DEFAULT_MODE)
    if (downward := child(v, "downwardAPI")) is not None:
        set_if_absent(downward, "defaultMode", VOLUME_DEFAULT_MODE)
        _field_refs(downward.get("items"))
    if (projected := child(v, "projected")) is not None:
        _projected(projected)
    legacy_volume_sources(v)
    ephemeral = child(v, "ephemeral")
    template = child(ephemeral, "volumeClaimTemplate") if ephemeral else None
    claim_spec = child(template, "spec") if template else None
    if claim_spec is not None:
        set_if_absent(claim_spec, "volumeMode", "Filesystem")


def legacy_volume_sources(v: Obj) -> None:
    """Declarative defaults of in-tree plugins (iSCSI, RBD, Azure disk, ScaleIO)."""
    if (iscsi := child(v, "iscsi")) is not None:
        set_if_empty(iscsi, "iscsiInterface", "default")
    if (rbd := child(v, "rbd")) is not None:
        set_if_empty(rbd, "pool", "rbd")
        set_if_empty(rbd, "user", "admin")
        set_if_empty(rbd, "keyring", "/etc/ceph/keyring")
    if (azure := child(v, "azureDisk")) is not None:
        set_if_absent(azure, "cachingMode", "ReadWrite")
        set_if_absent(azure, "fsType", "ext4")
        set_if_absent(azure, "readOnly", False)
        set_if_absent(azure, "kind", "Shared")
    if (scale_io := child(v, "scaleIO")) is not None:
        set_if_empty(scale_io, "storageMode", "ThinProvisioned")
        set_if_empty(scale_io, "fsType", "xfs")


# --------------------------------------------------------------------------- pod spec / pod


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and everything nested: what pods and pod templates share."""
    set_if_empty(spec, "dnsPolicy", "ClusterFirst")
    set_if_empty(spec, "restartPolicy", "Always")
    set_if_absent(spec, "securityContext", {})
    set_if_absent(spec, "terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
    set_if_empty(spec, "schedulerName", DEFAULT_SCHEDULER)
    for v in dicts(spec.get("volumes")):
        volume(v)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in dicts(spec.get(key)):
            container(c)
    service_account_alias(spec)


def service_account_alias(spec: Obj) -> None:
    """Keep ``serviceAccount`` (deprecated) and ``serviceAccountName`` in step.

    Upstream does this in v1 conversion: the old field fills the new one when
    only it is set, and on the way out the old one mirrors the new.  Call it
    again after the ServiceAccount admission step has filled the name.
    """
    name = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if name:
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name


def pod_template(template: Obj | None) -> None:
    """A PodTemplateSpec inside a workload: PodSpec defaults only (no SetDefaults_Pod)."""
    spec = child(template, "spec") if template else None
    if spec is not None:
        pod_spec(spec)


def pod(obj: Obj) -> None:
    """SetObjectDefaults_Pod: pod-only defaults first, then the shared PodSpec ones."""
    spec = child(obj, "spec")
    if spec is None:
        spec = obj["spec"] = {}
    for key in ("containers", "initContainers"):
        for c in dicts(spec.get(key)):
            requests_from_limits(c)
    set_if_absent(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in dicts(spec.get(key)):
                for port in dicts(c.get("ports")):
                    if not port.get("hostPort") and port.get("containerPort"):
                        port["hostPort"] = port["containerPort"]
    pod_spec(spec)


def requests_from_limits(c: Obj) -> None:
    """A resource with a limit but no request gets the limit as its request (pods only)."""
    resources = child(c, "resources")
    limits = child(resources, "limits") if resources else None
    if resources is None or limits is None:
        return
    requests = child(resources, "requests")
    if requests is None:
        requests = resources["requests"] = {}
    for name, value in limits.items():
        if name not in requests:
            requests[name] = copy.deepcopy(value)
