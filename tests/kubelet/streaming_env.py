"""A node agent's streaming server over a real runc container, for the pods/log|exec|attach|portforward suites.

`StreamingNode` runs its own event loop in a thread (kubectl is run with blocking ``subprocess`` calls by the
tests), with a `RuncRuntime` under a temporary root and a unique cgroup root, one sandbox and container per pod
registered with `add_pod`, and the `StreamingServer` on 127.0.0.1:<free port>. `stop` removes everything
(``cleanup_all``). `ApiObjects` writes the Node and Pod objects that point the API server at it.

`AgentNode` is the real node agent instead (`kubelet.agent.Agent`: it runs the pods the API binds to its node,
so ``kubectl run`` works), in a thread of its own, over runc with no pod network (no bridge, no nftables: its
pods only have loopback), offline (the busybox image is made locally), with a unique node name and cgroup root.
`stop` stops it, removes every container, sandbox and cgroup it made, and deletes its Node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kybernetes.client.rest import Client
from kybernetes.images import bootstrap
from kybernetes.images.store import ImageStore
from kybernetes.kubelet.agent import Agent, AgentConfig
from kybernetes.kubelet.server import ContainerRef, PodNetwork, StreamingServer
from kybernetes.runtime.api import ContainerConfig, ContainerState, SandboxConfig
from kybernetes.runtime.cgroups import Hierarchies
from kybernetes.runtime.runc import RuncRuntime

T = TypeVar("T")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Lookup:
    """Maps (namespace, pod, container) to the containers this test node runs."""

    def __init__(self, rt: RuncRuntime) -> None:
        self.rt = rt
        self.containers: dict[tuple[str, str, str], str] = {}
        self.sandboxes: dict[tuple[str, str], str] = {}

    async def container(self, namespace: str, pod: str, container: str, previous: bool) -> ContainerRef | None:
        if (namespace, pod) not in self.sandboxes:
            return None
        cid = self.containers.get((namespace, pod, container))
        if cid is None or previous:
            return ContainerRef("")
        st = await self.rt.container_status(cid)
        return ContainerRef(cid, st.log_path, st.state is ContainerState.RUNNING)

    async def pod_network(self, namespace: str, pod: str) -> PodNetwork | None:
        sid = self.sandboxes.get((namespace, pod))
        if sid is None:
            return None
        st = await self.rt.pod_sandbox_status(sid)
        return PodNetwork(st.netns_path, st.ip)


class StreamingNode:
    def __init__(self, root: Path, rootfs: Path) -> None:
        self.root = root
        self.rootfs = rootfs
        self.cgroup_root = f"/kyb-test-{secrets.token_hex(4)}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="streaming-node", daemon=True)
        self.port = 0
        self.rt: RuncRuntime
        self.lookup: Lookup
        self._runner: web.AppRunner | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> StreamingNode:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        self.rt = RuncRuntime(self.root / "rt", cgroup_root=self.cgroup_root)
        self.lookup = Lookup(self.rt)
        self._runner = web.AppRunner(StreamingServer(self.lookup, self.rt).app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def add_pod(self, namespace: str, pod: str, containers: dict[str, list[str]], **stdio: bool) -> None:
        """Run the pod's containers; ``stdio`` (``stdin``, ``stdin_once``, ``tty``) applies to each of them."""
        self.call(self._add_pod(namespace, pod, containers, stdio))

    async def _add_pod(self, namespace: str, pod: str, containers: dict[str, list[str]],
                       stdio: dict[str, bool]) -> None:
        sid = await self.rt.run_pod_sandbox(SandboxConfig(name=pod, namespace=namespace, uid=f"uid-{pod}"))
        self.lookup.sandboxes[(namespace, pod)] = sid
        for name, command in containers.items():
            cfg = ContainerConfig(name=name, command=command, env=[PATH_ENV], rootfs_layers=[self.rootfs],
                                  log_path=str(self.root / "logs" / namespace / pod / f"{name}.log"),
                                  stdin=stdio.get("stdin", False), stdin_once=stdio.get("stdin_once", False),
                                  tty=stdio.get("tty", False))
            cid = await self.rt.create_container(sid, cfg)
            await self.rt.start_container(cid)
            self.lookup.containers[(namespace, pod, name)] = cid

    def stop(self) -> None:
        async def _stop() -> None:
            try:  # containers first: their exec/attach sessions end with them, so the server stops quickly
                await self.rt.cleanup_all()
            finally:
                if self._runner is not None:
                    await asyncio.wait([asyncio.ensure_future(self._runner.cleanup())], timeout=30)

        try:
            self.call(_stop(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


class AgentNode:
    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        tag = secrets.token_hex(3)
        self.cfg = AgentConfig(node_name=f"node-{tag}", data_dir=root / "agent", cgroup_root=f"/kyb-test-{tag}",
                               kubelet_port=0, lease_renew_interval=2.0, offline=True)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="agent-node", daemon=True)
        self.runtime: RuncRuntime | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None

    @property
    def node_name(self) -> str:
        return self.cfg.node_name

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> AgentNode:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        images = ImageStore(self.cfg.data_dir / "images")
        bootstrap.bootstrap_busybox(images)
        self.runtime = RuncRuntime(self.cfg.data_dir / "runtime", cgroup_root=self.cfg.cgroup_root)
        self._client = Client(self.url)
        agent = Agent(self._client, self.cfg, self.runtime, images)
        self._task = asyncio.ensure_future(agent.run())
        for _ in range(400):  # registered, informer synced, workers running
            if len(agent._tasks) >= 3 or self._task.done():
                break
            await asyncio.sleep(0.05)
        if self._task.done():
            self._task.result()

    def stop(self) -> None:
        async def _stop() -> None:
            try:
                if self._task is not None:
                    self._task.cancel()
                    await asyncio.wait([self._task], timeout=30)
            finally:
                if self.runtime is not None:
                    await self.runtime.cleanup_all()
                if self._client is not None:
                    await self._client.close()

        try:
            self.call(_stop(), timeout=180)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            Hierarchies().remove_tree(self.cfg.cgroup_root)
            with contextlib.suppress(urllib.error.URLError):
                urllib.request.urlopen(urllib.request.Request(
                    f"{self.url.rstrip('/')}/api/v1/nodes/{self.node_name}", method="DELETE"), timeout=10).close()


class ApiObjects:
    """Plain HTTP writes to the test API server (no kubectl needed for setup)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def send(self, method: str, path: str, body: dict[str, Any], content_type: str = "application/json") -> Any:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def node(self, name: str, port: int | None) -> None:
        self.send("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        status: dict[str, Any] = {"addresses": []}
        if port is not None:
            status = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                    {"type": "Hostname", "address": name}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
        self.send("PATCH", f"/api/v1/nodes/{name}/status", {"status": status}, "application/merge-patch+json")

    def pod(self, namespace: str, name: str, containers: list[str], node: str = "",
            annotations: dict[str, str] | None = None, **container_fields: Any) -> None:
        """A pod whose containers have ``container_fields`` (``stdin``, ``stdinOnce``, ``tty``...)."""
        spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox", **container_fields}
                                               for c in containers]}
        if node:
            spec["nodeName"] = node
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = annotations
        self.send("POST", f"/api/v1/namespaces/{namespace}/pods",
                  {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
        if node:
            self.send("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                      {"status": {"phase": "Running"}}, "application/merge-patch+json")
