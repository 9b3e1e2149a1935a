"""Running one pod through the container runtime: the "do" half of the agent's pod sync.

`PodRunner.sync(pod, now)` is level-triggered and idempotent: it reads what the runtime has for the pod (its
sandbox and containers, found by the pod-UID label, so a restarted agent finds everything again), moves one step
towards the spec (sandbox, volumes, then init containers in order, then the containers, restarting exited ones as
``restartPolicy`` and CrashLoopBackOff allow) and returns the pod status computed by the pure `podstatus`
module, plus how soon it wants to look again. `PodRunner.kill` stops a pod (stop signal, grace period, SIGKILL)
and frees its sandbox. Decisions live in the pure modules (`containerspec`, `envvars`, `volumes`, `backoff`);
this module only performs them and never raises for a container's failure: a failure is a waiting reason in the
status (``CreateContainerConfigError``, ``ErrImagePull``...), as upstream reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.images.store import Image, ImageStore
from kybernetes.runtime import api as rt

from . import backoff, containerspec, envvars, hooks, imagepull, podstatus, volumes

log = logging.getLogger(__name__)
Obj = dict[str, Any]
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
Fetch = Callable[[str, str], Awaitable[Obj | None]]  # (kind "configmaps"|"secrets", name) -> object


@dataclass
class SyncResult:
    status: Obj
    requeue_after: float | None = None  # seconds; None: only when something changes
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


@dataclass
class _Waiting:
    reason: str
    message: str


class PodRunner:
    def __init__(self, runtime: rt.Runtime, images: ImageStore, *, pod_root: Path, log_root: Path, host_ip: str,
                 node_allocatable: Mapping[str, Any] | None = None, puller: imagepull.ImagePuller | None = None) -> None:
        self.runtime = runtime
        self.images = images
        self.puller = puller or imagepull.ImagePuller(images)
        self.pod_root = pod_root
        self.log_root = log_root
        self.host_ip = host_ip
        self.node_allocatable = dict(node_allocatable or {})
        self.crashloop = backoff.CrashLoopBackOff()
        self.waiting: dict[tuple[str, str], _Waiting] = {}  # (pod uid, container) -> why it is not running
        self._sandbox_ids: dict[str, str] = {}  # pod uid -> its ready sandbox
        # pod uid -> [(attempt, sandbox id)] of every sandbox, read from the runtime once and then kept up to date
        # here (this agent is the only one creating sandboxes in its runtime): a new pod then costs no listing
        self._by_uid: dict[str, list[tuple[int, str]]] | None = None
        # (pod uid, container) -> (ready, started) from the agent's probes; absent: no probes, running = ready
        self.probe_state: dict[tuple[str, str], tuple[bool, bool]] = {}

    # -- what the runtime has -------------------------------------------------------------------------------

    async def _index(self) -> dict[str, list[tuple[int, str]]]:
        if self._by_uid is None:
            index: dict[str, list[tuple[int, str]]] = {}
            for s in await self.runtime.list_pod_sandboxes():
                index.setdefault(s.config.uid, []).append((s.config.attempt, s.id))
            self._by_uid = index
        return self._by_uid

    async def _sandbox(self, uid: str) -> rt.SandboxStatus | None:
        # The pod's sandbox ID is remembered: listing every sandbox on every sync is O(pods) per sync.
        sid = self._sandbox_ids.get(uid)
        if sid is not None:
            with contextlib.suppress(rt.NotFound):
                st = await self.runtime.pod_sandbox_status(sid)
                if st.state == rt.SandboxState.READY:
                    return st
            self._sandbox_ids.pop(uid, None)
        for _, sid in sorted((await self._index()).get(uid, []), reverse=True):
            with contextlib.suppress(rt.NotFound):
                st = await self.runtime.pod_sandbox_status(sid)
                if st.state == rt.SandboxState.READY:
                    self._sandbox_ids[uid] = sid
                    return st
        return None

    async def _containers(self, sandbox_id: str) -> dict[str, list[rt.ContainerStatus]]:
        by_name: dict[str, list[rt.ContainerStatus]] = {}
        for c in await self.runtime.list_containers(sandbox_id):
            by_name.setdefault(c.name, []).append(c)
        for attempts in by_name.values():
            attempts.sort(key=lambda c: c.attempt)
        return by_name

    # -- sync -----------------------------------------------------------------------------------------------

    async def sync(self, pod: Obj, now: float, fetch: Fetch) -> SyncResult:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        events: list[tuple[str, str, str]] = []
        terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        sandbox = await self._sandbox(uid)
        if sandbox is None and not terminal:
            index = await self._index()
            attempt = 1 + max([a for a, _ in index.get(uid, [])] or [-1])
            sid = await self.runtime.run_pod_sandbox(rt.SandboxConfig(
                name=meta["name"], namespace=meta.get("namespace", ""), uid=uid, attempt=attempt,
                hostname=spec.get("hostname") or meta["name"], labels={POD_UID_LABEL: uid},
                host_network=bool(spec.get("hostNetwork"))))
            index.setdefault(uid, []).append((attempt, sid))
            sandbox = await self.runtime.pod_sandbox_status(sid)
            self._sandbox_ids[uid] = sid
        pod_ip = (sandbox.ip if sandbox else "") or (self.host_ip if spec.get("hostNetwork") else "")
        containers = await self._containers(sandbox.id) if sandbox else {}
        requeue: float | None = None
        if sandbox is not None and not terminal:
            requeue = await self._advance(pod, sandbox, containers, pod_ip, now, fetch, events)
            containers = await self._containers(sandbox.id)
        snapshots = self._snapshots(pod, containers)
        observed = podstatus.PodObservation(containers=snapshots, pod_ips=[pod_ip] if pod_ip else [],
                                            host_ips=[self.host_ip], sandbox_ready=sandbox is not None,
                                            terminal=terminal)
        status = podstatus.pod_status(pod, observed, now)
        # Exits of running containers are noticed by the agent's relist (one runtime listing per second for all
        # pods), so a pod is looked at again by timer only while it waits (back-off, missing image...).
        return SyncResult(status, requeue, events)

    async def _advance(self, pod: Obj, sandbox: rt.SandboxStatus, containers: dict[str, list[rt.ContainerStatus]],
                       pod_ip: str, now: float, fetch: Fetch, events: list[tuple[str, str, str]]) -> float | None:
        """One step towards the spec; returns when to look again."""
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        for init in spec.get("initContainers") or []:
            attempts = containers.get(init["name"], [])
            last = attempts[-1] if attempts else None
            if last is not None and last.state == rt.ContainerState.EXITED and last.exit_code == 0:
                continue
            if last is not None and last.state in (rt.ContainerState.RUNNING, rt.ContainerState.CREATED):
                return 0.2
            if last is not None and policy == "Never":
                return None  # failed init container, pod is Failed
            return await self._start(pod, init, sandbox, last, pod_ip, now, fetch, events)
        delays = []
        for c in spec.get("containers") or []:
            attempts = containers.get(c["name"], [])
            last = attempts[-1] if attempts else None
            if last is not None and last.state != rt.ContainerState.EXITED:
                continue
            if last is not None and (policy == "Never" or (policy == "OnFailure" and last.exit_code == 0)):
                continue
            delay = await self._start(pod, c, sandbox, last, pod_ip, now, fetch, events)
            if delay is not None:
                delays.append(delay)
        return min(delays) if delays else None

    async def _start(self, pod: Obj, container: Obj, sandbox: rt.SandboxStatus, last: rt.ContainerStatus | None,
                     pod_ip: str, now: float, fetch: Fetch, events: list[tuple[str, str, str]]) -> float | None:
        uid, name = pod["metadata"]["uid"], container["name"]
        key = (uid, name)
        if last is not None:
            decision = self.crashloop.check(pod, name, last.finished_at, now)
            if not decision.allowed:
                if key not in self.waiting or self.waiting[key].reason != decision.reason:
                    events.append(("Warning", "BackOff", self.crashloop.event_message(pod, name)))
                self.waiting[key] = _Waiting(decision.reason, decision.message)
                return max(0.5, self.crashloop.backoff.get(backoff.container_key(pod, name)) / 4)
        try:
            pulled = await self.puller.ensure(pod, container, now, fetch)
        except imagepull.PullFailed as e:
            return self._image_failed(key, e, events)
        events.extend(pulled.events)
        try:
            cfg = await self._config(pod, container, pulled.image, pod_ip, (last.attempt + 1) if last else 0, fetch)
        except _Fail as e:
            self.waiting[key] = _Waiting(e.reason, e.message)
            events.append(("Warning", "Failed", e.message))
            return 2.0
        cid = await self.runtime.create_container(sandbox.id, cfg)
        events.append(("Normal", "Created", f"Created container {name}"))
        await self.runtime.start_container(cid)
        events.append(("Normal", "Started", f"Started container {name}"))
        self.waiting.pop(key, None)
        await self._post_start(pod, container, cid, pod_ip, events)
        if last is not None:
            with contextlib.suppress(rt.RuntimeError_):
                for old in await self.runtime.list_containers(sandbox.id):
                    if old.name == name and old.attempt < last.attempt:
                        await self.runtime.remove_container(old.id)  # keep one previous attempt, for --previous
        return None

    def _image_failed(self, key: tuple[str, str], e: imagepull.PullFailed, events: list[tuple[str, str, str]]) -> float:
        """The container waits for its image: upstream's events (repeats aggregate into one event's count)."""
        self.waiting[key] = _Waiting(e.reason, e.message)
        first = {backoff.IMAGE_PULL_BACK_OFF: ("Normal", backoff.BACK_OFF_EVENT),
                 backoff.ERR_IMAGE_PULL: ("Warning", "Failed"), "InvalidImageName": ("Warning", "InspectFailed"),
                 "ErrImageNeverPull": ("Warning", "ErrImageNeverPull")}[e.reason]
        events.append((*first, e.message))
        if e.reason != "ErrImageNeverPull":
            events.append(("Warning", "Failed", f"Error: {e.reason}"))
        return 1.0

    async def _post_start(self, pod: Obj, container: Obj, cid: str, pod_ip: str,
                          events: list[tuple[str, str, str]]) -> None:
        """The ``postStart`` hook; when it fails the container is killed (and restarted as the policy says)."""
        handler = hooks.handler_of(container, "postStart")
        if handler is None:
            return
        try:
            error = await asyncio.wait_for(hooks.run_hook(handler, container, pod, runtime=self.runtime,
                                                          container_id=cid, pod_ip=pod_ip,
                                                          timeout=hooks.POST_START_LIMIT), hooks.POST_START_LIMIT)
        except TimeoutError:
            error = hooks.hook_error(handler, container["name"], pod, "context deadline exceeded", "")
        if error is None:
            return
        events.append(("Warning", "FailedPostStartHook", error))
        events.append(("Normal", "Killing", "FailedPostStartHook"))
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
        with contextlib.suppress(rt.RuntimeError_):
            await self.runtime.stop_container(cid, grace)

    async def _config(self, pod: Obj, container: Obj, image: Image, pod_ip: str, attempt: int,
                      fetch: Fetch) -> rt.ContainerConfig:
        image_ref = container.get("image", "")
        objects: dict[tuple[str, str], Obj | None] = {}
        for kind, name in _referenced_objects(pod):
            objects[(kind, name)] = await fetch(kind, name)

        def lookup(kind: str) -> envvars.Lookup:
            return lambda name: objects.get((kind, name))

        try:
            env = envvars.resolve_env(pod, container, configmap=lookup("configmaps"), secret=lookup("secrets"),
                                      node_allocatable=self.node_allocatable, pod_ips=[pod_ip] if pod_ip else [],
                                      host_ips=[self.host_ip])
            pod_dir = str(self.pod_root / pod["metadata"]["uid"])
            plans = volumes.plan_volumes(pod, volumes.Sources(configmap=lookup("configmaps"), secret=lookup("secrets"),
                                                              node_allocatable=self.node_allocatable))
            for plan in plans.values():
                self._materialize(pod_dir, plan)
            mounts = volumes.container_mounts(container, plans, pod_dir, env.env)
            return containerspec.container_config(
                pod, container, image.config, env=env.env, mounts=mounts, image=image_ref, image_id=image.id,
                rootfs_layers=self.images.layer_dirs(image), restart_count=attempt, log_root=str(self.log_root))
        except (envvars.EnvError, containerspec.ContainerConfigError, volumes.VolumeError) as e:
            raise _Fail("CreateContainerConfigError", str(e)) from None

    def _materialize(self, pod_dir: str, plan: volumes.VolumePlan) -> None:
        if plan.kind == "hostPath":
            volumes.check_host_path(plan)
            return
        target = volumes.volume_host_dir(pod_dir, plan)
        os.makedirs(target, exist_ok=True)
        if plan.files:
            volumes.write_payload(target, plan.files)

    def _snapshots(self, pod: Obj, containers: dict[str, list[rt.ContainerStatus]]) -> list[podstatus.ContainerSnapshot]:
        uid = pod["metadata"]["uid"]
        spec = pod.get("spec") or {}
        out = []
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            attempts = containers.get(c["name"], [])
            waiting = self.waiting.get((uid, c["name"]))
            if not attempts:
                out.append(podstatus.ContainerSnapshot(name=c["name"], image=c.get("image", ""),
                                                       waiting_reason=waiting.reason if waiting else "",
                                                       waiting_message=waiting.message if waiting else ""))
                continue
            last = attempts[-1]
            previous = attempts[-2] if len(attempts) > 1 else None
            running = last.state == rt.ContainerState.RUNNING
            ready, started = self.probe_state.get((uid, c["name"]), (running, True))
            snap = podstatus.ContainerSnapshot.from_runtime(
                last, image=c.get("image", ""), ready=running and ready, started=started,
                waiting_reason=waiting.reason if waiting else "", waiting_message=waiting.message if waiting else "",
                last_terminated=podstatus.ContainerSnapshot.from_runtime(previous).terminated() if previous else None)
            out.append(snap)
        return out

    # -- stopping -------------------------------------------------------------------------------------------

    async def kill(self, uid: str, grace: float, pod: Obj | None = None) -> list[tuple[str, str, str]]:
        """Stop every container of the pod, all at once (``preStop`` hooks when ``pod`` is given, then the stop
        signal, the rest of the grace period, SIGKILL) and free its sandboxes and files; returns the events."""
        events: list[tuple[str, str, str]] = []
        specs = {c["name"]: c for c in ((pod or {}).get("spec") or {}).get("containers") or []}

        async def stop(c: rt.ContainerStatus, pod_ip: str) -> None:
            left = grace
            spec = specs.get(c.name)
            if pod is not None and spec is not None:
                left, error = await hooks.pre_stop(pod, spec, runtime=self.runtime, container_id=c.id,
                                                   pod_ip=pod_ip, grace=grace)
                if error is not None:
                    events.append(("Warning", "FailedPreStopHook", error))
            with contextlib.suppress(rt.NotFound):
                await self.runtime.stop_container(c.id, left)

        for _, sid in (await self._index()).get(uid, []):
            try:
                sb = await self.runtime.pod_sandbox_status(sid)
            except rt.NotFound:
                continue
            with contextlib.suppress(rt.NotFound):
                running = [c for c in await self.runtime.list_containers(sb.id) if c.state == rt.ContainerState.RUNNING]
                await asyncio.gather(*(stop(c, sb.ip) for c in running))
            with contextlib.suppress(rt.NotFound):
                for c in await self.runtime.list_containers(sb.id):
                    await self.runtime.remove_container(c.id)
                await self.runtime.stop_pod_sandbox(sb.id)
                await self.runtime.remove_pod_sandbox(sb.id)
        shutil.rmtree(self.pod_root / uid, ignore_errors=True)
        self._sandbox_ids.pop(uid, None)
        (await self._index()).pop(uid, None)
        self.waiting = {k: v for k, v in self.waiting.items() if k[0] != uid}
        self.probe_state = {k: v for k, v in self.probe_state.items() if k[0] != uid}
        return events

    async def known_pods(self) -> set[str]:
        return {uid for uid in await self._index() if uid}

    async def fingerprints(self) -> dict[str, tuple[Any, ...]]:
        """Per pod UID, the state of its containers: the agent's relist compares these to find what changed."""
        uid_of = {sid: uid for uid, sandboxes in (await self._index()).items() for _, sid in sandboxes}
        out: dict[str, list[tuple[Any, ...]]] = {}
        for c in await self.runtime.list_containers():
            uid = uid_of.get(c.sandbox_id)
            if uid:
                out.setdefault(uid, []).append((c.name, c.attempt, c.state.value, c.exit_code))
        return {uid: tuple(sorted(v)) for uid, v in out.items()}

    async def find(self, uid: str, name: str, previous: bool) -> tuple[rt.ContainerStatus | None, str]:
        """The container ``name`` of pod ``uid`` (its latest attempt, or the one before) and a waiting reason."""
        sandbox = await self._sandbox(uid)
        if sandbox is None:
            return None, "ContainerCreating"
        attempts = (await self._containers(sandbox.id)).get(name, [])
        waiting = self.waiting.get((uid, name))
        if previous:
            return (attempts[-2] if len(attempts) > 1 else None), ""
        return (attempts[-1] if attempts else None), (waiting.reason if waiting else "ContainerCreating")

    async def network(self, uid: str) -> rt.SandboxStatus | None:
        return await self._sandbox(uid)


class _Fail(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _referenced_objects(pod: Obj) -> set[tuple[str, str]]:
    """ConfigMaps and Secrets the pod's env, envFrom and volumes name (fetched before a container starts)."""
    spec = pod.get("spec") or {}
    out: set[tuple[str, str]] = set()
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for e in c.get("env") or []:
            src = e.get("valueFrom") or {}
            if "configMapKeyRef" in src:
                out.add(("configmaps", src["configMapKeyRef"].get("name", "")))
            if "secretKeyRef" in src:
                out.add(("secrets", src["secretKeyRef"].get("name", "")))
        for e in c.get("envFrom") or []:
            if "configMapRef" in e:
                out.add(("configmaps", e["configMapRef"].get("name", "")))
            if "secretRef" in e:
                out.add(("secrets", e["secretRef"].get("name", "")))
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            out.add(("configmaps", v["configMap"].get("name", "")))
        if "secret" in v:
            out.add(("secrets", v["secret"].get("secretName", "")))
        for s in (v.get("projected") or {}).get("sources") or []:
            if "configMap" in s:
                out.add(("configmaps", s["configMap"].get("name", "")))
            if "secret" in s:
                out.add(("secrets", s["secret"].get("name", "")))
    return out
