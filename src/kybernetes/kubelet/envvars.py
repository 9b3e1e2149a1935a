"""A container's environment, resolved as the kubelet does before it creates the container (pure functions).

Behaviour is upstream's kubelet (``makeEnvironmentVariables``, the downward API field and resource
selectors, the ``$(VAR)`` expansion); the shape is ours:

* **Order of sources.**  ``envFrom`` first (each ConfigMap / Secret's keys, sorted, behind the optional
  ``prefix``; a later source replaces an earlier one), then ``env`` in declaration order, each entry replacing
  any variable of the same name.  The result keeps first-insertion order, so it is deterministic.
* **Expansion.**  A ``value`` may reference variables declared *before* it (and every ``envFrom`` key) as
  ``$(NAME)``; ``$$`` is a literal ``$``; a reference to an unknown name, or an unterminated ``$(``, stays
  verbatim.  :func:`expand` is the same algorithm the kubelet applies to ``command``, ``args`` and
  ``subPathExpr``.
* **Sources.**  ``configMapKeyRef`` / ``secretKeyRef`` (Secret data is base64 on the wire and decoded here;
  ``optional`` skips a missing object or key), ``fieldRef`` (:func:`field_ref_value`) and
  ``resourceFieldRef`` (:func:`resource_field_ref_value`: a missing limit defaults to the node's allocatable,
  the value is divided by ``divisor`` and rounded up).
* **Errors** are :class:`EnvError` with upstream's text (``couldn't find key K in ConfigMap ns/name``,
  ``configmap "name" not found``...); the kubelet reports them as the waiting reason
  ``CreateContainerConfigError``.  ``envFrom`` keys that are not valid variable names are skipped and
  reported in :attr:`ResolvedEnv.warnings` (the ``InvalidEnvironmentVariableNames`` event text).

Service-link variables (``FOO_SERVICE_HOST``...) are not produced.  No I/O: ConfigMaps and Secrets come from
the caller's lookups (``name -> object or None``).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kybernetes.api.validation.names import is_relaxed_env_var_name
from kybernetes.api.validation.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]
Lookup = Callable[[str], Mapping[str, Any] | None]

CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
INVALID_ENV_NAMES_REASON = "InvalidEnvironmentVariableNames"
LIMIT_DEFAULTED = ("cpu", "memory", "ephemeral-storage")


class EnvError(ValueError):
    """The container's environment cannot be built; ``str(e)`` is upstream's message."""


@dataclass
class ResolvedEnv:
    env: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_list(self) -> list[str]:
        """``K=V`` strings, as :class:`~kybernetes.runtime.api.ContainerConfig` takes them."""
        return [f"{k}={v}" for k, v in self.env.items()]


# -- $(VAR) expansion ------------------------------------------------------------------------------------


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Replace ``$(NAME)`` by ``mapping(NAME)``; ``$$`` becomes ``$``; any other ``$`` stays as written."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
            else:
                out.append(mapping(text[i + 2:close]))
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """Look a name up in each context in turn; an unknown name expands to its own ``$(NAME)``."""
    def mapping(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"
    return mapping


# -- downward API: fields ----------------------------------------------------------------------------------


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (``strconv.Quote``), which the downward API uses for label/annotation maps."""
    named = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t", "\v": "\\v"}
    out = []
    for ch in s:
        if ch in named:
            out.append(named[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def format_map(m: Mapping[str, str]) -> str:
    """``k="v"`` lines sorted by key, the downward API's rendering of all labels or annotations."""
    return "\n".join(f"{k}={go_quote(m[k])}" for k in sorted(m))


def _split_subscript(path: str) -> tuple[str, str] | None:
    if not path.endswith("']"):
        return None
    head, sep, key = path[:-2].partition("['")
    return (head, key) if sep and head else None


def field_ref_value(pod: Mapping[str, Any], ref: Mapping[str, Any], *, pod_ips: Sequence[str] | None = None,
                    host_ips: Sequence[str] | None = None) -> str:
    """The value of a ``fieldRef`` (``ObjectFieldSelector``) for ``pod``.

    ``pod_ips`` / ``host_ips`` are what the kubelet knows now (the sandbox's IPs); without them the pod's
    status is read."""
    version = ref.get("apiVersion") or "v1"
    path = str(ref.get("fieldPath") or "")
    if version != "v1":
        raise EnvError(f"unsupported pod version: {version}")
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    sub = _split_subscript(path)
    if sub is not None:
        head, key = sub
        if head == "metadata.annotations":
            return str((meta.get("annotations") or {}).get(key, ""))
        if head == "metadata.labels":
            return str((meta.get("labels") or {}).get(key, ""))
        raise EnvError(f"field label does not support subscript: {path}")
    if pod_ips is None:
        pod_ips = [p.get("ip", "") for p in status.get("podIPs") or []] or (
            [status["podIP"]] if status.get("podIP") else [])
    if host_ips is None:
        host_ips = [p.get("ip", "") for p in status.get("hostIPs") or []] or (
            [status["hostIP"]] if status.get("hostIP") else [])
    if path == "spec.host":
        path = "spec.nodeName"
    values: dict[str, Callable[[], str]] = {
        "metadata.name": lambda: str(meta.get("name", "")),
        "metadata.namespace": lambda: str(meta.get("namespace", "")),
        "metadata.uid": lambda: str(meta.get("uid", "")),
        "metadata.labels": lambda: format_map(meta.get("labels") or {}),
        "metadata.annotations": lambda: format_map(meta.get("annotations") or {}),
        "spec.nodeName": lambda: str(spec.get("nodeName", "")),
        "spec.serviceAccountName": lambda: str(spec.get("serviceAccountName", "")),
        "status.podIP": lambda: pod_ips[0] if pod_ips else "",
        "status.podIPs": lambda: ",".join(pod_ips),
        "status.hostIP": lambda: host_ips[0] if host_ips else "",
        "status.hostIPs": lambda: ",".join(host_ips),
    }
    if path in values:
        return values[path]()
    if path in ("spec.restartPolicy", "spec.schedulerName", "status.phase"):
        raise EnvError(f"unsupported fieldPath: {path}")  # accepted by the API, not resolved by the kubelet
    raise EnvError(f"field label not supported: {path}")


# -- downward API: resources -------------------------------------------------------------------------------


def _ceil(d: Decimal) -> int:
    return math.ceil(d)


def _quantity(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return parse_quantity(value)
    except QuantityError as e:
        raise EnvError(str(e)) from None


def _find_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if c.get("name") == name:
            return c
    raise EnvError(f"container {name} not found")


def resource_field_ref_value(pod: Mapping[str, Any], container: Mapping[str, Any], ref: Mapping[str, Any],
                             node_allocatable: Mapping[str, Any] | None = None) -> str:
    """The value of a ``resourceFieldRef``: the (defaulted) limit or request divided by ``divisor``, rounded up.

    CPU divides milli-units (``1m`` divisor: millicores); memory and ephemeral storage divide whole units.
    A limit the container does not set is the node's allocatable amount."""
    if ref.get("containerName"):
        container = _find_container(pod, str(ref["containerName"]))
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in LIMIT_DEFAULTED:
        raise EnvError(f"unsupported container resource : {resource}")
    amounts = (container.get("resources") or {}).get(kind) or {}
    raw = amounts.get(name)
    if raw in (None, "") and kind == "limits":
        raw = (node_allocatable or {}).get(name)
    amount = _quantity(raw)
    divisor = _quantity(ref.get("divisor"))
    if divisor == 0:
        divisor = Decimal(1)
    if name == "cpu":
        value = _ceil(amount * 1000) / Decimal(_ceil(divisor * 1000))
    else:
        value = Decimal(_ceil(amount)) / Decimal(_ceil(divisor))
    return str(_ceil(value))


# -- ConfigMaps and Secrets --------------------------------------------------------------------------------


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data``, base64-decoded."""
    out = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v or "", validate=True)
        except (binascii.Error, ValueError):
            raise EnvError(f"invalid base64 data for key {k} in Secret") from None
    return out


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="surrogateescape")


class _Sources:
    """ConfigMaps and Secrets read at most once each, with upstream's errors."""

    def __init__(self, namespace: str, configmap: Lookup, secret: Lookup):
        self.namespace = namespace
        self.lookups = {"configmap": configmap, "secret": secret}
        self.cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def get(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        """The object's data as text, or None when it is missing and optional."""
        if (kind, name) not in self.cache:
            obj = self.lookups[kind](name)
            data: dict[str, str] | None = None
            if obj is not None:
                if kind == "secret":
                    data = {k: _text(v) for k, v in secret_data(obj).items()}
                else:
                    data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
            self.cache[(kind, name)] = data
        data = self.cache[(kind, name)]
        if data is None and not optional:
            raise EnvError(f'{kind} "{name}" not found')
        return data


def resolve_env(pod: Mapping[str, Any], container: Mapping[str, Any], *, configmap: Lookup, secret: Lookup,
                node_allocatable: Mapping[str, Any] | None = None, pod_ips: Sequence[str] | None = None,
                host_ips: Sequence[str] | None = None) -> ResolvedEnv:
    """The environment of ``container`` in ``pod``; raises :class:`EnvError`."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    sources = _Sources(namespace, configmap, secret)
    result = ResolvedEnv()
    env = result.env
    for source in container.get("envFrom") or []:
        if source.get("configMapRef") is not None:
            ref, kind, label = source["configMapRef"], "configmap", "configMap"
        elif source.get("secretRef") is not None:
            ref, kind, label = source["secretRef"], "secret", "secret"
        else:
            continue
        name = str(ref.get("name", ""))
        data = sources.get(kind, name, bool(ref.get("optional")))
        if data is None:
            continue
        invalid = []
        for key in sorted(data):
            full = str(source.get("prefix") or "") + key
            if is_relaxed_env_var_name(full):
                invalid.append(full)
                continue
            env[full] = data[key]
        if invalid:
            result.warnings.append(f"Keys [{', '.join(invalid)}] from the EnvFrom {label} {namespace}/{name} were "
                                   "skipped since they are considered invalid environment variable names.")
    mapping = mapping_for(env)
    for var in container.get("env") or []:
        name = str(var.get("name", ""))
        value = var.get("value") or ""
        source = var.get("valueFrom")
        if value:
            value = expand(value, mapping)
        elif source:
            resolved = _value_from(pod, container, source, sources, namespace, node_allocatable, pod_ips, host_ips)
            if resolved is None:
                continue
            value = resolved
        env[name] = value
    return result


def _value_from(pod: Mapping[str, Any], container: Mapping[str, Any], source: Mapping[str, Any], sources: _Sources,
                namespace: str, node_allocatable: Mapping[str, Any] | None, pod_ips: Sequence[str] | None,
                host_ips: Sequence[str] | None) -> str | None:
    if source.get("fieldRef") is not None:
        return field_ref_value(pod, source["fieldRef"], pod_ips=pod_ips, host_ips=host_ips)
    if source.get("resourceFieldRef") is not None:
        return resource_field_ref_value(pod, container, source["resourceFieldRef"], node_allocatable)
    for field_name, kind, label in (("configMapKeyRef", "configmap", "ConfigMap"), ("secretKeyRef", "secret", "Secret")):
        ref = source.get(field_name)
        if ref is None:
            continue
        name, key, optional = str(ref.get("name", "")), str(ref.get("key", "")), bool(ref.get("optional"))
        data = sources.get(kind, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            raise EnvError(f"couldn't find key {key} in {label} {namespace}/{name}")
        return data[key]
    return ""
