"""The runtime's :class:`~kybernetes.runtime.api.ContainerConfig` for one container of a pod (pure functions).

Behaviour is upstream's kubelet (``generateContainerConfig``, ``calculateLinuxResources``,
``verifyRunAsNonRoot``, the container labels and log paths); the shape is ours.  Inputs are the pod, the
container, the image's OCI config, the resolved environment (:mod:`~kybernetes.kubelet.envvars`) and the mounts
(:mod:`~kybernetes.kubelet.volumes`); nothing is read from disk.

* **Command.**  ``command`` / ``args`` over the image's ENTRYPOINT / CMD (``images.config.kubernetes_argv``),
  with ``$(VAR)`` references in ``command`` and ``args`` expanded from the container's resolved environment
  (unknown references stay as written).  The image's entrypoint and cmd are never expanded.
* **Environment.**  The image's variables, then the container's, a container variable replacing an image one.
* **User.**  ``runAsUser`` / ``runAsGroup`` of the container's securityContext, else the pod's; with neither the
  image's USER.  ``runAsNonRoot`` refuses a root or unverifiable (non-numeric) user with upstream's text, as a
  :class:`ContainerConfigError` (the waiting reason ``CreateContainerConfigError``).
* **Resources.**  CPU limit -> CFS quota over a 100 ms period (at least 1 ms); CPU request (or the limit when no
  request) -> shares ``milliCPU * 1024 / 1000`` clamped to [2, 262144]; memory limit -> bytes.
* **Identity.**  Labels ``io.kubernetes.pod.{name,namespace,uid}`` and ``io.kubernetes.container.name`` (the
  runtime lists a pod's containers by them); annotations carry the restart count, a hash of the container spec
  (to notice a changed spec) and the termination settings.  The CRI log is
  ``<log_root>/<namespace>_<name>_<uid>/<container>/<restartCount>.log``.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from kybernetes.api.validation.quantity import QuantityError, parse_quantity
from kybernetes.images import config as imagecfg
from kybernetes.kubelet.backoff import format_pod
from kybernetes.kubelet.envvars import expand, mapping_for
from kybernetes.runtime.api import ContainerConfig, Mount, Resources

LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
ANNOTATION_HASH = "io.kubernetes.container.hash"
ANNOTATION_RESTART_COUNT = "io.kubernetes.container.restartCount"
ANNOTATION_TERMINATION_PATH = "io.kubernetes.container.terminationMessagePath"
ANNOTATION_TERMINATION_POLICY = "io.kubernetes.container.terminationMessagePolicy"
ANNOTATION_GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
DEFAULT_LOG_ROOT = "/var/log/pods"
CFS_PERIOD = 100_000  # microseconds
MIN_QUOTA = 1_000
MIN_SHARES = 2
MAX_SHARES = 262_144
SHARES_PER_CPU = 1024


class ContainerConfigError(ValueError):
    """The container cannot be configured; ``str(e)`` is upstream's message."""


# -- identity and logs -------------------------------------------------------------------------------------


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return pod.get("metadata") or {}


def pod_log_dir(log_root: str, pod: Mapping[str, Any]) -> str:
    meta = _meta(pod)
    return posixpath.join(log_root, f"{meta.get('namespace', '')}_{meta.get('name', '')}_{meta.get('uid', '')}")


def log_path(log_root: str, pod: Mapping[str, Any], container: str, restart_count: int) -> str:
    return posixpath.join(pod_log_dir(log_root, pod), container, f"{restart_count}.log")


def container_labels(pod: Mapping[str, Any], container: str) -> dict[str, str]:
    meta = _meta(pod)
    return {LABEL_POD_NAME: str(meta.get("name", "")), LABEL_POD_NAMESPACE: str(meta.get("namespace", "")),
            LABEL_POD_UID: str(meta.get("uid", "")), LABEL_CONTAINER_NAME: container}


def container_hash(container: Mapping[str, Any]) -> str:
    """A stable short hash of the container's spec (ours, not upstream's value)."""
    text = json.dumps(container, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def container_annotations(pod: Mapping[str, Any], container: Mapping[str, Any], restart_count: int) -> dict[str, str]:
    out = {ANNOTATION_HASH: container_hash(container), ANNOTATION_RESTART_COUNT: str(restart_count)}
    if container.get("terminationMessagePath"):
        out[ANNOTATION_TERMINATION_PATH] = str(container["terminationMessagePath"])
    if container.get("terminationMessagePolicy"):
        out[ANNOTATION_TERMINATION_POLICY] = str(container["terminationMessagePolicy"])
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    if grace is not None:
        out[ANNOTATION_GRACE_PERIOD] = str(grace)
    return out


# -- resources ---------------------------------------------------------------------------------------------


def _amount(raw: Any) -> Decimal:
    if raw in (None, ""):
        return Decimal(0)
    try:
        return parse_quantity(raw)
    except QuantityError as e:
        raise ContainerConfigError(str(e)) from None


def milli_cpu_to_shares(milli: int) -> int:
    if milli == 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli * SHARES_PER_CPU // 1000))


def milli_cpu_to_quota(milli: int, period: int = CFS_PERIOD) -> int:
    if milli == 0:
        return 0
    return max(MIN_QUOTA, milli * period // 1000)


def container_resources(container: Mapping[str, Any]) -> Resources:
    res = container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    cpu_limit = math.ceil(_amount(limits.get("cpu")) * 1000)
    cpu_request = math.ceil(_amount(requests.get("cpu")) * 1000)
    if "cpu" not in requests and "cpu" in limits:
        cpu_request = cpu_limit
    return Resources(cpu_period=CFS_PERIOD, cpu_quota=milli_cpu_to_quota(cpu_limit),
                     cpu_shares=milli_cpu_to_shares(cpu_request),
                     memory_limit_bytes=math.ceil(_amount(limits.get("memory"))))


# -- user --------------------------------------------------------------------------------------------------


def effective_security(pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The pod's securityContext with the container's fields laid over it."""
    pod_sc = dict((pod.get("spec") or {}).get("securityContext") or {})
    return {**pod_sc, **{k: v for k, v in (container.get("securityContext") or {}).items() if v is not None}}


def _image_uid(image_user: str) -> tuple[int | None, str]:
    """(uid, username) of an image's USER: empty is root (0); a non-numeric name has no uid."""
    name = image_user.split(":", 1)[0]
    if not name:
        return 0, ""
    return (int(name), "") if name.isdigit() else (None, name)


def verify_run_as_non_root(pod: Mapping[str, Any], container: Mapping[str, Any], image_user: str) -> None:
    sc = effective_security(pod, container)
    if not sc.get("runAsNonRoot"):
        return
    where = f'(pod: "{format_pod(pod)}", container: {container.get("name", "")})'
    if sc.get("runAsUser") is not None:
        if int(sc["runAsUser"]) == 0:
            raise ContainerConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    uid, username = _image_uid(image_user)
    if uid == 0:
        raise ContainerConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if uid is None:
        raise ContainerConfigError(f"container has runAsNonRoot and image has non-numeric user ({username}), "
                                   f"cannot verify user is non-root {where}")


def container_user(pod: Mapping[str, Any], container: Mapping[str, Any], image_user: str) -> str:
    """``uid[:gid]`` (or the image's ``name[:group]``) the process runs as."""
    sc = effective_security(pod, container)
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if uid is not None:
        return f"{uid}:{gid}" if gid is not None else str(uid)
    if gid is not None:
        return f"{image_user.split(':', 1)[0] or '0'}:{gid}"
    return image_user


# -- the whole config --------------------------------------------------------------------------------------


def container_command(container: Mapping[str, Any], image_config: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    mapping = mapping_for(env)
    command = [expand(str(a), mapping) for a in container.get("command") or []]
    args = [expand(str(a), mapping) for a in container.get("args") or []]
    try:
        return imagecfg.kubernetes_argv(dict(image_config), command or None, args or None)
    except imagecfg.NoCommand as e:
        raise ContainerConfigError(str(e)) from None


def container_config(pod: Mapping[str, Any], container: Mapping[str, Any], image_config: Mapping[str, Any], *,
                     env: Mapping[str, str], mounts: Sequence[Mount] = (), image: str = "", image_id: str = "",
                     rootfs_layers: Sequence[Path] = (), restart_count: int = 0,
                     log_root: str = DEFAULT_LOG_ROOT) -> ContainerConfig:
    """Everything the runtime needs to create ``container``; raises :class:`ContainerConfigError`."""
    cfg = dict(image_config)
    name = str(container.get("name", ""))
    image_user = imagecfg.user(cfg)
    verify_run_as_non_root(pod, container, image_user)
    sc = effective_security(pod, container)
    stop_signal = ((container.get("lifecycle") or {}).get("stopSignal")
                   or (cfg.get("config") or {}).get("StopSignal") or "SIGTERM")
    return ContainerConfig(
        name=name,
        command=container_command(container, cfg, env),
        image=image or str(container.get("image", "")),
        image_id=image_id,
        rootfs_layers=list(rootfs_layers),
        attempt=restart_count,
        env=imagecfg.merge_env(imagecfg.image_env(cfg), [f"{k}={v}" for k, v in env.items()]),
        working_dir=imagecfg.working_dir(cfg, str(container.get("workingDir") or "")),
        user=container_user(pod, container, image_user),
        mounts=list(mounts),
        resources=container_resources(container),
        labels=container_labels(pod, name),
        annotations=container_annotations(pod, container, restart_count),
        log_path=log_path(log_root, pod, name, restart_count),
        stop_signal=str(stop_signal),
        tty=bool(container.get("tty")),
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdin")) and bool(container.get("stdinOnce")),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        privileged=bool(sc.get("privileged")),
    )
