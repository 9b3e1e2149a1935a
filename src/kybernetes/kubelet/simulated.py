"""The simulated node agent: N nodes that run no containers, in the spirit of KWOK.

Behaviour follows KWOK's default stages and the kubelet's pod status; the shape is ours:

* **Nodes.**  :func:`simulated_node_configs` names node ``i`` ``<prefix>-<i>`` and gives it pod CIDR
  ``i`` of the cluster CIDR (a /24 each: ``10.244.i.0/24`` for the first 256 of the default
  ``10.244.0.0/14``), an InternalIP from the node network, the ``type: kwok`` label and the
  ``kwok.x-k8s.io/node: fake`` annotation.  One :class:`~kybernetes.kubelet.node.NodeHeartbeat` registers
  them all and keeps their Leases and status alive over one client.
* **Pods.**  One informer of bound pods (``spec.nodeName!=``, or ``=<name>`` with one node), indexed by
  node.  Handlers only enqueue keys (and restore the pod IPs a restarted agent finds in use); workers
  decide with :func:`pod_action` and act:

  - ``start``: a bound pod that is not running becomes ``Running`` in one status patch
    (:func:`running_status`): ``hostIP(s)``, ``podIP(s)`` from the node's CIDR (the host's IP with
    ``hostNetwork``), ``startTime``, conditions PodReadyToStartContainers, Initialized, ContainersReady,
    Ready (and PodScheduled if missing) all True, and container statuses (running, ready, started,
    restartCount 0, ``image``, ``imageID``, ``containerID`` ``kwok://...``; init containers completed);
  - ``terminate`` / ``delete``: a pod with ``deletionTimestamp`` has its containers marked terminated
    (exit 0, phase Succeeded, :func:`terminated_status`) and is then deleted with ``gracePeriodSeconds: 0``
    and a uid precondition, as the kubelet's status manager finishes a graceful deletion.
  - ``refresh``: a running pod whose Ready condition someone else turned False (the node lifecycle
    controller, while the node was unreachable) is reported ready again, as the kubelet's status
    manager reconciles what it knows with the API;
  - terminal pods give their IP back.

  A pod once started is remembered by uid until deleted, so a stale cache never starts it twice.
* **Simulated failure.**  :meth:`SimulatedAgent.stop_heartbeat` makes a node's kubelet "die": no Lease
  renewals, no status, and its pods are left alone (deletions stay pending, as on a dead node).
  :meth:`SimulatedAgent.resume_heartbeat` brings it back.  The same from the command line: annotate the
  Node ``kyb.io/simulate-failure=true`` (remove the annotation to resume).
* A deleted Node is forgotten (not registered again until the agent restarts, like a kubelet).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from kybernetes import __version__
from kybernetes.api.meta import format_time
from kybernetes.api.meta import now as utcnow
from kybernetes.client.informer import Informer, object_key
from kybernetes.client.rest import APIError, Client
from kybernetes.client.workqueue import WorkQueue, run_workers
from kybernetes.kubelet.node import STRATEGIC_MERGE_PATCH, Clock, NodeConfig, NodeHeartbeat

log = logging.getLogger("kybernetes.kubelet.simulated")

Obj = dict[str, Any]

FAILURE_ANNOTATION = "kyb.io/simulate-failure"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
RUNTIME = "kwok"
DEFAULT_CLUSTER_CIDR = "10.244.0.0/14"
DEFAULT_NODE_NETWORK = "172.18.0.0/16"
NODE_CIDR_PREFIX = 24

START, REFRESH, TERMINATE, DELETE, RELEASE, NOTHING = "start", "refresh", "terminate", "delete", "release", "none"
TERMINAL = ("Succeeded", "Failed")


def simulated_node_configs(count: int, *, name_prefix: str = "kwok-node", start_index: int = 0,
                           capacity: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                           annotations: dict[str, str] | None = None, taints: list[Obj] | None = None,
                           cluster_cidr: str = DEFAULT_CLUSTER_CIDR,
                           node_network: str = DEFAULT_NODE_NETWORK) -> list[NodeConfig]:
    """``count`` simulated nodes, numbered from ``start_index`` (which also picks their CIDRs and IPs)."""
    cluster = ipaddress.ip_network(cluster_cidr)
    nodes_net = ipaddress.ip_network(node_network)
    per_node = 2 ** (NODE_CIDR_PREFIX - cluster.prefixlen)
    out = []
    for i in range(start_index, start_index + count):
        if i >= per_node or i + 2 >= nodes_net.num_addresses:
            raise ValueError(f"node index {i} does not fit cluster CIDR {cluster_cidr} / node network {node_network}")
        cidr = ipaddress.ip_network((int(cluster.network_address) + i * 2 ** (32 - NODE_CIDR_PREFIX),
                                     NODE_CIDR_PREFIX))
        cfg = NodeConfig(name=f"{name_prefix}-{i}", internal_ip=str(nodes_net.network_address + i + 2),
                         labels={"type": RUNTIME, **(labels or {})},
                         annotations={KWOK_ANNOTATION: "fake", **(annotations or {})},
                         taints=[dict(t) for t in taints or []], pod_cidrs=[str(cidr)],
                         node_info={"osImage": "Kybernetes simulated node",
                                    "containerRuntimeVersion": f"{RUNTIME}://{__version__}"})
        if capacity:
            cfg.capacity = {**cfg.capacity, **capacity}
        out.append(cfg)
    return out


class PodIPs:
    """Pod IPs of one node's CIDR, by pod uid (.1 is the gateway; network and broadcast are skipped)."""

    def __init__(self, cidr: str):
        self.network = ipaddress.ip_network(cidr)
        self._by_uid: dict[str, str] = {}
        self._used: set[str] = set()
        self._next = 2

    def allocate(self, uid: str) -> str | None:
        if uid in self._by_uid:
            return self._by_uid[uid]
        size = self.network.num_addresses
        for _ in range(size):
            offset = self._next
            self._next = self._next + 1 if self._next + 1 < size - 1 else 2
            ip = str(self.network.network_address + offset)
            if ip not in self._used:
                self._used.add(ip)
                self._by_uid[uid] = ip
                return ip
        return None

    def restore(self, uid: str, ip: str) -> None:
        if uid not in self._by_uid and ip not in self._used and ipaddress.ip_address(ip) in self.network:
            self._by_uid[uid] = ip
            self._used.add(ip)

    def release(self, uid: str) -> None:
        ip = self._by_uid.pop(uid, None)
        if ip is not None:
            self._used.discard(ip)

    def __len__(self) -> int:
        return len(self._by_uid)


# -- pure pod decisions and statuses (no side effects) -------------------------------

def pod_action(pod: Obj) -> str:
    """What the simulated kubelet does with a pod bound to one of its live nodes."""
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        running = any("terminated" not in (cs.get("state") or {"terminated": {}})
                      for cs in status.get("containerStatuses") or [])
        return TERMINATE if running else DELETE
    phase = status.get("phase")
    if phase in TERMINAL:
        return RELEASE
    if phase != "Running" or not status.get("podIP"):
        return START
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return NOTHING if ready == "True" else REFRESH  # e.g. marked not ready while the node was unreachable


def image_id(image: str) -> str:
    """A digest-pinned reference for ``image``, as a runtime reports it (the digest is made up)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def container_id(pod_uid: str, container: str) -> str:
    return f"{RUNTIME}://{hashlib.sha256(f'{pod_uid}/{container}'.encode()).hexdigest()}"


def _container_status(pod_uid: str, c: Obj, state: Obj, *, ready: bool, started: bool) -> Obj:
    return {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": image_id(c.get("image", "")),
            "containerID": container_id(pod_uid, c.get("name", "")), "ready": ready, "started": started,
            "restartCount": 0, "state": state, "lastState": {}}


def _condition(type_: str, status: str, ts: str, reason: str = "") -> Obj:
    cond: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": ts}
    if reason:
        cond["reason"] = reason
    return cond


def running_status(pod: Obj, host_ip: str, pod_ip: str, now: Any) -> Obj:
    """The status patch that makes a bound pod Running and Ready."""
    ts = format_time(now)
    uid = (pod.get("metadata") or {}).get("uid", "")
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    conditions = [_condition(t, "True", ts)
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")]
    if not any(c.get("type") == "PodScheduled" for c in status.get("conditions") or []):
        conditions.append(_condition("PodScheduled", "True", ts))
    running = {"running": {"startedAt": ts}}
    inits = []
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":  # a sidecar keeps running
            inits.append(_container_status(uid, c, running, ready=True, started=True))
        else:
            done = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ts, "finishedAt": ts,
                                   "containerID": container_id(uid, c.get("name", ""))}}
            inits.append(_container_status(uid, c, done, ready=True, started=False))
    out: Obj = {"phase": "Running", "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": status.get("startTime") or ts,
                "containerStatuses": [_container_status(uid, c, running, ready=True, started=True)
                                      for c in spec.get("containers") or []]}
    if inits:
        out["initContainerStatuses"] = inits
    return out


def ready_again_status(now: Any) -> Obj:
    """The status patch of a running pod whose containers are (still) ready."""
    ts = format_time(now)
    return {"conditions": [_condition("Ready", "True", ts), _condition("ContainersReady", "True", ts)]}


def terminated_status(pod: Obj, now: Any) -> Obj:
    """The status patch of a pod whose containers all exited 0 on SIGTERM."""
    ts = format_time(now)
    uid = (pod.get("metadata") or {}).get("uid", "")
    started = {cs.get("name"): ((cs.get("state") or {}).get("running") or {}).get("startedAt")
               for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    statuses = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        name = c.get("name", "")
        state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started.get(name) or ts,
                                "finishedAt": ts, "containerID": container_id(uid, name)}}
        statuses.append(_container_status(uid, c, state, ready=False, started=False))
    return {"phase": "Succeeded", "containerStatuses": statuses,
            "conditions": [_condition("PodReadyToStartContainers", "False", ts),
                           _condition("Ready", "False", ts, "PodCompleted"),
                           _condition("ContainersReady", "False", ts, "PodCompleted")]}


# -- the agent --------------------------------------------------------------------------

class SimulatedAgent:
    """Registers simulated nodes, keeps them alive and moves their pods through their lifecycle."""

    def __init__(self, client: Client, configs: Iterable[NodeConfig], *, heartbeat: NodeHeartbeat | None = None,
                 workers: int = 16, start_delay: float = 0.0, clock: Clock = utcnow,
                 register_concurrency: int = 32):
        self.client = client
        self.configs = {c.name: c for c in configs}
        self.heartbeat = heartbeat or NodeHeartbeat(client, clock=clock)
        self.clock = clock
        self.workers = workers
        self.start_delay = start_delay
        self.register_concurrency = register_concurrency
        self.ips = {c.name: PodIPs(c.pod_cidrs[0]) for c in self.configs.values() if c.pod_cidrs}
        self.failed: set[str] = set()  # kubelet "dead": heartbeat stopped, pods left alone
        self.gone: set[str] = set()  # Node deleted
        self._started: dict[str, str] = {}  # pod uid -> node, for pods we made Running
        self._due: dict[str, float] = {}  # pod uid -> loop time it may start (start_delay)
        only = next(iter(self.configs)) if len(self.configs) == 1 else None
        self.pods = Informer(client, "", "v1", "pods",
                             field_selector=f"spec.nodeName={only}" if only else "spec.nodeName!=")
        self.pods.add_index("node", lambda p: [n] if (n := (p.get("spec") or {}).get("nodeName", "")) in self.configs
                            else [])
        self.nodes = Informer(client, "", "v1", "nodes",
                              field_selector=f"metadata.name={only}" if only else None)
        self.queue: WorkQueue[str] = WorkQueue()
        self.registered = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- failure simulation ------------------------------------------------------

    def stop_heartbeat(self, name: str) -> None:
        """The node's kubelet dies: no Lease, no status, its pods untouched."""
        if name in self.configs and name not in self.failed:
            log.info("simulated node %s: heartbeat stopped", name)
            self.failed.add(name)
            self.heartbeat.stop(name)

    def resume_heartbeat(self, name: str) -> None:
        if name in self.failed:
            log.info("simulated node %s: heartbeat resumed", name)
            self.failed.discard(name)
            self.heartbeat.resume(name)
            for key in self.pods.index_keys("node", name):
                self.queue.add(key)

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        sem = asyncio.Semaphore(self.register_concurrency)

        async def register(cfg: NodeConfig) -> None:
            async with sem:
                await self.heartbeat.register(cfg)

        await asyncio.gather(*(register(c) for c in self.configs.values()))
        self.registered.set()
        self.nodes.add_event_handler(self._node_added, self._node_updated, self._node_deleted)
        self.pods.add_event_handler(self._pod_changed, lambda _old, new: self._pod_changed(new), self._pod_deleted)
        self._tasks = [self.nodes.start(), self.pods.start(),
                       asyncio.create_task(self.heartbeat.run(), name="simulated heartbeat")]
        await self.pods.wait_synced()
        await self.nodes.wait_synced()
        self._tasks.append(asyncio.create_task(run_workers(self.queue, self.sync, self.workers),
                                               name="simulated pod workers"))

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
        await self.nodes.stop()
        await self.pods.stop()
        await self.heartbeat.close()
        self._tasks = []

    # -- handlers (no I/O) ---------------------------------------------------------------

    def _node_added(self, node: Obj) -> None:
        self._node_updated(None, node)

    def _node_updated(self, old: Obj | None, node: Obj) -> None:
        name = node["metadata"]["name"]
        if name not in self.configs or name in self.gone:
            return
        self.heartbeat.observe(node)
        was = ((old or {}).get("metadata") or {}).get("annotations", {}).get(FAILURE_ANNOTATION) == "true"
        now = (node["metadata"].get("annotations") or {}).get(FAILURE_ANNOTATION) == "true"
        if now and not was:
            self.stop_heartbeat(name)
        elif was and not now:
            self.resume_heartbeat(name)

    def _node_deleted(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        if name in self.configs:
            log.info("simulated node %s was deleted; no longer managed", name)
            self.gone.add(name)
            self.heartbeat.remove(name)

    def _pod_changed(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName", "")
        if node not in self.configs:
            return
        status = pod.get("status") or {}
        ips = self.ips.get(node)
        uid = pod["metadata"].get("uid", "")
        if ips is not None and status.get("podIP") and status.get("phase") not in TERMINAL \
                and not (pod.get("spec") or {}).get("hostNetwork"):
            ips.restore(uid, status["podIP"])
        self.queue.add(object_key(pod))

    def _pod_deleted(self, pod: Obj) -> None:
        uid = pod["metadata"].get("uid", "")
        node = self._started.pop(uid, None) or (pod.get("spec") or {}).get("nodeName", "")
        self._due.pop(uid, None)
        if node in self.ips:
            self.ips[node].release(uid)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        node = (pod.get("spec") or {}).get("nodeName", "")
        if node not in self.configs or node in self.failed or node in self.gone:
            return
        meta = pod["metadata"]
        uid, path = meta.get("uid", ""), f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        action = pod_action(pod)
        try:
            if action == START:
                await self._start(pod, node, uid, path)
            elif action == REFRESH:
                await self.client.patch(f"{path}/status", {"status": ready_again_status(self.clock())},
                                        STRATEGIC_MERGE_PATCH)
            elif action in (TERMINATE, DELETE):
                if action == TERMINATE:
                    await self.client.patch(f"{path}/status", {"status": terminated_status(pod, self.clock())},
                                            STRATEGIC_MERGE_PATCH)
                await self.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
                self._release(node, uid)
            elif action == RELEASE:
                self._release(node, uid)
        except APIError as e:
            if e.code not in (404, 409):  # gone, or a new pod of the same name: nothing left to do
                raise

    async def _start(self, pod: Obj, node: str, uid: str, path: str) -> None:
        if uid in self._started:
            return  # already started; the cache has not caught up yet
        if self.start_delay > 0:
            loop = asyncio.get_running_loop()
            due = self._due.setdefault(uid, loop.time() + self.start_delay)
            if loop.time() < due:
                self.queue.add_after(object_key(pod), due - loop.time())
                return
        cfg = self.configs[node]
        if (pod.get("spec") or {}).get("hostNetwork") or node not in self.ips:
            pod_ip: str | None = cfg.internal_ip
        else:
            pod_ip = self.ips[node].allocate(uid)
        if not pod_ip:
            log.warning("simulated node %s: no pod IP left for %s", node, object_key(pod))
            return
        await self.client.patch(f"{path}/status", {"status": running_status(pod, cfg.internal_ip, pod_ip,
                                                                             self.clock())},
                                STRATEGIC_MERGE_PATCH)
        self._started[uid] = node
        self._due.pop(uid, None)

    def _release(self, node: str, uid: str) -> None:
        self._started.pop(uid, None)
        if node in self.ips:
            self.ips[node].release(uid)


async def run_simulated_agent(url: str, count: int, *, name_prefix: str = "kwok-node",
                              capacity: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                              taints: list[Obj] | None = None, annotations: dict[str, str] | None = None,
                              start_index: int = 0, cluster_cidr: str = DEFAULT_CLUSTER_CIDR,
                              start_delay: float = 0.0, workers: int = 16,
                              lease_renew_interval: float = 10.0) -> None:
    """``kyb agent --simulate N``: run ``count`` simulated nodes against the API server at ``url``.

    ``lease_renew_interval`` (10 s, the kubelet's) may be shortened for demos and tests that
    shorten the node lifecycle controller's grace period below it.
    """
    client = Client(url)
    agent = SimulatedAgent(client, simulated_node_configs(
        count, name_prefix=name_prefix, start_index=start_index, capacity=capacity, labels=labels,
        annotations=annotations, taints=taints, cluster_cidr=cluster_cidr), start_delay=start_delay,
        workers=workers, heartbeat=NodeHeartbeat(client, renew_interval=lease_renew_interval))
    try:
        await agent.run()
    finally:
        with contextlib.suppress(Exception):
            await client.close()
