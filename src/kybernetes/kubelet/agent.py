"""The node agent (``kyb agent``): registers this machine as a Node and runs the pods bound to it in real
containers.

Shape (upstream's kubelet, small): an informer over the pods bound to the node feeds a work queue; a worker syncs
one pod at a time by key — `podworker.PodRunner.sync` moves the pod one step towards its spec and computes its
status — then posts the status (a JSON merge patch from the status it last saw, so removed fields are removed)
and looks again after the delay the runner asked for (running pods are re-checked every second: the relist that
notices exits). A pod with a deletionTimestamp is stopped with its grace period and then deleted for good (grace
0, UID precondition), as the kubelet finishes graceful deletion. Everything the agent knows about running pods is
read back from the runtime (labels on sandboxes), so after a restart — even ``kill -9`` — it adopts its running
containers and removes those of pods that no longer exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer, object_key
from kybernetes.client.rest import MERGE_PATCH, APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.images.store import ImageStore
from kybernetes.runtime import api as rt

from . import prober, probes_plan
from .imagepull import ImagePuller
from .node import NodeConfig, NodeHeartbeat
from .podworker import PodRunner
from .server import ContainerRef, PodNetwork, StreamingServer

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class AgentError(Exception):
    """The agent cannot run (the message says why, in one line)."""


@dataclass
class AgentConfig:
    node_name: str = ""
    data_dir: Path = Path("/var/lib/kybernetes")
    runtime: str = "runc"  # runc | process
    pod_cidr: str = "10.244.0.0/24"
    cluster_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    bridge: str = "kybpods0"
    nft_table: str = "kybpods"
    cgroup_root: str = "/kybpods"
    host_ip: str = "127.0.0.1"
    kubelet_port: int = 10250  # 0: any free port (what the Node reports in daemonEndpoints)
    relist_period: float = 1.0
    lease_renew_interval: float = 10.0
    workers: int = 8
    offline: bool = False  # contact no image registry beyond this machine (see imagepull)


def machine_capacity(data_dir: Path) -> dict[str, str]:
    mem_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    st = os.statvfs(data_dir)
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki", "pods": "110",
            "ephemeral-storage": f"{st.f_blocks * st.f_frsize // 1024}Ki"}


def merge_diff(old: Any, new: Any) -> Any:
    """An RFC 7386 merge patch turning ``old`` into ``new`` (removed keys become null; lists are replaced)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    out: dict[str, Any] = {}
    for k in old.keys() - new.keys():
        out[k] = None
    for k, v in new.items():
        if k not in old:
            out[k] = v
        elif old[k] != v:
            out[k] = merge_diff(old[k], v)
    return out


class Agent:
    def __init__(self, client: Client, cfg: AgentConfig, runtime: rt.Runtime, images: ImageStore) -> None:
        self.client = client
        self.cfg = cfg
        self.runtime = runtime
        self.node_name = cfg.node_name or socket.gethostname().lower()
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        capacity = machine_capacity(cfg.data_dir)
        self.node = NodeConfig(name=self.node_name, internal_ip=cfg.host_ip, capacity=capacity,
                               pod_cidrs=[cfg.pod_cidr], kubelet_port=cfg.kubelet_port,
                               node_info={"containerRuntimeVersion": f"{getattr(runtime, 'name', cfg.runtime)}://"})
        self.runner = PodRunner(runtime, images, pod_root=cfg.data_dir / "pods", log_root=cfg.data_dir / "logs",
                                host_ip=cfg.host_ip, node_allocatable=capacity,
                                puller=ImagePuller(images, offline=cfg.offline))
        self.heartbeat = NodeHeartbeat(client, renew_interval=cfg.lease_renew_interval)
        self.pods = Informer(client, "", "v1", "pods", field_selector=f"spec.nodeName={self.node_name}")
        self.queue: WorkQueue[str] = WorkQueue()
        self._uids: dict[str, str] = {}  # pod key -> uid of the pod we run under that key
        self._posted: dict[str, Any] = {}  # pod uid -> the status as our last patch left it
        self._tasks: list[asyncio.Task[None]] = []
        self._web: web.AppRunner | None = None
        self.recorder = EventRecorder(client, "kubelet", host=self.node_name)
        self.probes: dict[tuple[str, str], probes_plan.ContainerProbes] = {}  # (pod uid, container)
        self._probing: set[tuple[str, str, str]] = set()  # (uid, container, kind) in flight
        self._probed_id: dict[tuple[str, str], str] = {}  # (pod uid, container) -> the container being probed

    async def _serve_streaming(self) -> None:
        """The kubelet port on loopback: logs, exec, port-forward (the API server proxies to it)."""
        self._web = web.AppRunner(StreamingServer(_Lookup(self), self.runtime).app(), access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, self.cfg.host_ip, self.cfg.kubelet_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.node.kubelet_port = sockets[0].getsockname()[1]

    async def _relist(self) -> None:
        """PLEG in miniature: one runtime listing per period; pods whose containers changed are synced."""
        last: dict[str, tuple[Any, ...]] = {}
        while True:
            await asyncio.sleep(self.cfg.relist_period)
            try:
                now = await self.runner.fingerprints()
            except Exception as e:  # a runtime hiccup must not stop the relist
                log.warning("relist failed: %s", e)
                continue
            keys = {uid: key for key, uid in self._uids.items()}
            for uid in now.keys() | last.keys():
                if now.get(uid) != last.get(uid) and uid in keys:
                    self.queue.add(keys[uid])
            last = now

    async def start(self) -> None:
        await self._serve_streaming()
        await self.heartbeat.register(self.node)
        self.pods.add_event_handler(lambda p: self.queue.add(object_key(p)), self._on_update,
                                    lambda p: self.queue.add(object_key(p)))
        self._tasks = [self.pods.start(), asyncio.create_task(self.heartbeat.run(), name="agent heartbeat")]
        await self.pods.wait_synced()
        await self._remove_orphans()
        self._tasks.append(asyncio.create_task(run_workers(self.queue, self.sync, self.cfg.workers),
                                               name="agent pod workers"))
        self._tasks.append(asyncio.create_task(self._relist(), name="agent relist"))
        self._tasks.append(asyncio.create_task(self._probe_loop(), name="agent probes"))

    async def _probe_loop(self) -> None:
        """Runs the probes that are due (liveness, readiness, startup), every 100 ms."""
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await asyncio.sleep(0.1)
                now = time.time()
                for key, uid in list(self._uids.items()):
                    pod = self.pods.get(key)
                    if pod is None:
                        continue
                    spec = pod.get("spec") or {}
                    deleting = bool(pod["metadata"].get("deletionTimestamp"))
                    for c in spec.get("containers") or []:
                        if not any(c.get(f) for f in probes_plan.SPEC_FIELDS.values()):
                            continue
                        # Nothing due for a container already being probed: no runtime lookup this tick. (Its
                        # restart shows up when a probe is due, or when probing stopped: next_due is None.)
                        cp = self.probes.get((uid, c["name"]))
                        due = cp.next_due(now, deleting=deleting) if cp is not None else None
                        if (uid, c["name"]) in self._probed_id and due is not None and due > now:
                            continue
                        t = asyncio.create_task(self._probe_container(key, pod, uid, c, now))
                        running.add(t)
                        t.add_done_callback(running.discard)
        finally:
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _probe_container(self, key: str, pod: Obj, uid: str, c: Obj, now: float) -> None:
        name = c["name"]
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        cp = self.probes.get((uid, name))
        if cp is None:
            cp = self.probes[(uid, name)] = probes_plan.ContainerProbes(c, policy)
        found, _ = await self.runner.find(uid, name, False)
        if found is None or found.state != rt.ContainerState.RUNNING:
            if cp.container_exited() is not None:
                self._publish(key, uid, name, cp)
            return
        if self._probed_id.get((uid, name)) != found.id:
            cp.container_started(found.id, found.started_at)
            self._probed_id[(uid, name)] = found.id
            self._publish(key, uid, name, cp)
        deleting = bool(pod["metadata"].get("deletionTimestamp"))
        for kind in cp.due(now, deleting=deleting):
            flight = (uid, name, kind)
            if flight in self._probing:
                continue
            self._probing.add(flight)
            try:
                probe = c.get(probes_plan.SPEC_FIELDS[kind]) or {}
                sandbox = await self.runner.network(uid)
                result, output = await prober.run_handler(
                    probe, c, runtime=self.runtime, container_id=found.id, pod_ip=(sandbox.ip if sandbox else "")
                    or self.cfg.host_ip, timeout=float(probe.get("timeoutSeconds") or 1))
                tr = cp.record(kind, result, time.time(), output)
            finally:
                self._probing.discard(flight)
            if tr.event is not None:
                self.recorder.event(pod, tr.event.type, tr.event.reason, tr.event.message)
            if tr.action == probes_plan.RESTART:
                self.recorder.event(pod, "Normal", "Killing", tr.kill_message)
                grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
                with contextlib.suppress(rt.RuntimeError_):
                    await self.runtime.stop_container(found.id, grace)
            if tr.changed:
                self._publish(key, uid, name, cp)

    def _publish(self, key: str, uid: str, name: str, cp: probes_plan.ContainerProbes) -> None:
        self.runner.probe_state[(uid, name)] = (cp.ready, cp.started)
        self.queue.add(key)

    async def run(self) -> None:
        try:
            await self.start()
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self) -> None:
        await self.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pods.stop()
        await self.heartbeat.close()
        with contextlib.suppress(Exception):
            await self.recorder.close()
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        self._tasks = []

    def _on_update(self, old: Obj, new: Obj) -> None:
        # The echo of our own status patch changes nothing to do: syncing on it would double every pod's syncs.
        # (Upstream's kubelet likewise ignores status-only updates; a status someone else wrote differs from
        # what we posted, so it is synced and put right.)
        if _without_status(old) != _without_status(new) or new.get("status") != self._posted.get(new["metadata"]["uid"]):
            self.queue.add(object_key(new))

    def pod_uid(self, namespace: str, name: str) -> str | None:
        pod = self.pods.get(f"{namespace}/{name}")
        return pod["metadata"].get("uid") if pod else None

    async def _remove_orphans(self) -> None:
        """Sandboxes of pods that are gone (deleted while the agent was down) are stopped and removed."""
        live = {(p.get("metadata") or {}).get("uid") for p in map(self.pods.get, list(self.pods.keys())) if p}
        for uid in await self.runner.known_pods() - live:
            log.info("removing the containers of pod %s, which no longer exists", uid)
            await self.runner.kill(uid, 0)

    async def _fetch(self, namespace: str, kind: str, name: str) -> Obj | None:
        try:
            obj: Obj = await self.client.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")
            return obj
        except APIError as e:
            if e.code == 404:
                return None
            raise

    def _forget_probes(self, uid: str) -> None:
        self.probes = {k: v for k, v in self.probes.items() if k[0] != uid}
        self._probed_id = {k: v for k, v in self._probed_id.items() if k[0] != uid}
        self._posted.pop(uid, None)

    async def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        known = self._uids.get(key)
        if pod is None or (known and pod["metadata"].get("uid") != known):
            if known:
                await self.runner.kill(known, 0)
                self._uids.pop(key, None)
                self._forget_probes(known)
            if pod is None:
                return
        meta = pod["metadata"]
        uid = meta["uid"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        if meta.get("deletionTimestamp"):
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            if key in self._uids:
                for c in (pod.get("spec") or {}).get("containers") or []:
                    self.recorder.event(pod, "Normal", "Killing", f"Stopping container {c['name']}")
            for type_, reason, message in await self.runner.kill(uid, grace, pod):
                self.recorder.event(pod, type_, reason, message)
            self._uids.pop(key, None)
            self._forget_probes(uid)
            with contextlib.suppress(APIError):
                await self.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
            return
        self._uids[key] = uid
        result = await self.runner.sync(pod, time.time(),
                                        lambda kind, name: self._fetch(meta["namespace"], kind, name))
        for type_, reason, message in result.events:
            self.recorder.event(pod, type_, reason, message)
        current = pod.get("status") or {}
        if result.status != current:
            self._posted[uid] = result.status  # before the patch: its watch echo may come before its response
            try:
                patched = await self.client.patch(f"{path}/status", {"status": merge_diff(current, result.status)},
                                                  MERGE_PATCH)
                self._posted[uid] = patched.get("status")
            except APIError as e:
                self._posted.pop(uid, None)
                if e.code != 404:
                    raise
        else:
            self._posted[uid] = pod.get("status")
        if result.requeue_after is not None:
            self.queue.add_after(key, result.requeue_after)


def _without_status(pod: Obj) -> Obj:
    meta = {k: v for k, v in (pod.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**pod, "metadata": meta, "status": None}


class _Lookup:
    """What the streaming server asks of the agent, answered from the informer and the runtime."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def container(self, namespace: str, pod: str, container: str, previous: bool) -> ContainerRef | None:
        uid = self.agent.pod_uid(namespace, pod)
        if uid is None:
            return None
        found, waiting = await self.agent.runner.find(uid, container, previous)
        if found is None:  # an empty reference: the server answers upstream's 400 ("previous terminated ...")
            return ContainerRef("") if previous else ContainerRef("", waiting_reason=waiting or "ContainerCreating")
        return ContainerRef(found.id, found.log_path, found.state == rt.ContainerState.RUNNING)

    async def pod_network(self, namespace: str, pod: str) -> PodNetwork | None:
        uid = self.agent.pod_uid(namespace, pod)
        sandbox = await self.agent.runner.network(uid) if uid else None
        if sandbox is None:
            return None
        return PodNetwork(netns_path=sandbox.netns_path, ip=sandbox.ip)


async def run_agent(url: str, cfg: AgentConfig, *, cleanup_on_exit: Callable[[], bool] | bool = False) -> None:
    try:
        await _run_agent(url, cfg, cleanup_on_exit=cleanup_on_exit)
    except Exception as e:  # a companion task's failure would otherwise go unseen
        log.error("node agent failed: %s", e)
        raise


async def _run_agent(url: str, cfg: AgentConfig, *, cleanup_on_exit: Callable[[], bool] | bool = False) -> None:
    """``kyb agent`` / the agent inside ``kyb up``: this machine as a node, until cancelled.

    With ``cleanup_on_exit`` (``kyb up``) stopping also stops every pod's containers and removes the pod bridge
    and its guard, so nothing is left on the machine; the pods stay in the API and are started again next time.
    A standalone agent leaves its containers running, as a kubelet does, and adopts them when it comes back.
    """

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    # One agent per data dir: a second one would fight the first over the same containers and network.
    lock = open(cfg.data_dir / "agent.lock", "w")  # noqa: SIM115 - held for the agent's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise AgentError(f"another node agent is running on {cfg.data_dir}") from None
    try:
        await _run_locked(url, cfg, cleanup_on_exit)
    finally:
        lock.close()


async def _run_locked(url: str, cfg: AgentConfig, cleanup_on_exit: Callable[[], bool] | bool) -> None:
    from kybernetes.network.bridge import BridgeNetwork

    images = ImageStore(cfg.data_dir / "images")
    net: BridgeNetwork | None = None
    runtime: rt.Runtime
    if cfg.runtime == "runc":
        from kybernetes.runtime.runc import RuncRuntime

        net = BridgeNetwork(bridge=cfg.bridge, subnet=cfg.pod_cidr, state_dir=cfg.data_dir / "network",
                            nft_table=cfg.nft_table)
        try:
            await net.ensure()
            await net.blackhole([c for c in (cfg.cluster_cidr, cfg.service_cidr) if c])
        except BaseException:
            with contextlib.suppress(Exception):
                await net.destroy()
            raise
        runtime = RuncRuntime(cfg.data_dir / "runtime" / "runc", network=net, cgroup_root=cfg.cgroup_root)
    else:
        from kybernetes.runtime.process import ProcessRuntime

        runtime = ProcessRuntime(cfg.data_dir / "runtime" / "process")
    client = Client(url)
    agent = Agent(client, cfg, runtime, images)
    log.info("node agent %s: %s runtime, pods on %s", agent.node_name, cfg.runtime,
             cfg.pod_cidr if cfg.runtime == "runc" else "the host network")
    try:
        await agent.run()
    finally:
        if cleanup_on_exit() if callable(cleanup_on_exit) else cleanup_on_exit:
            with contextlib.suppress(Exception):
                uids = await agent.runner.known_pods()
                await asyncio.gather(*(agent.runner.kill(uid, 5) for uid in uids), return_exceptions=True)
            cleanup = getattr(runtime, "cleanup_all", None)
            if cleanup is not None:
                with contextlib.suppress(Exception):
                    await cleanup()
            if net is not None:
                with contextlib.suppress(Exception):
                    await net.destroy()
        with contextlib.suppress(Exception):
            await client.close()
