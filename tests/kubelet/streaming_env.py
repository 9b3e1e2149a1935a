"""A node agent's streaming server over a real runc container, for the pods/log|exec|portforward suites.

`StreamingNode` runs its own event loop in a thread (kubectl is run with blocking ``subprocess`` calls by the
tests), with a `RuncRuntime` under a temporary root and a unique cgroup root, one sandbox and container per pod
registered with `add_pod`, and the `StreamingServer` on 127.0.0.1:<free port>. `stop` removes everything
(``cleanup_all``). `ApiObjects` writes the Node and Pod objects that point the API server at it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kybernetes.kubelet.server import ContainerRef, PodNetwork, StreamingServer
from kybernetes.runtime.api import ContainerConfig, ContainerState, SandboxConfig
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

    def add_pod(self, namespace: str, pod: str, containers: dict[str, list[str]]) -> None:
        self.call(self._add_pod(namespace, pod, containers))

    async def _add_pod(self, namespace: str, pod: str, containers: dict[str, list[str]]) -> None:
        sid = await self.rt.run_pod_sandbox(SandboxConfig(name=pod, namespace=namespace, uid=f"uid-{pod}"))
        self.lookup.sandboxes[(namespace, pod)] = sid
        for name, command in containers.items():
            cfg = ContainerConfig(name=name, command=command, env=[PATH_ENV], rootfs_layers=[self.rootfs],
                                  log_path=str(self.root / "logs" / namespace / pod / f"{name}.log"))
            cid = await self.rt.create_container(sid, cfg)
            await self.rt.start_container(cid)
            self.lookup.containers[(namespace, pod, name)] = cid

    def stop(self) -> None:
        async def _stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            await self.rt.cleanup_all()

        try:
            self.call(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


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
            annotations: dict[str, str] | None = None) -> None:
        spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
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
