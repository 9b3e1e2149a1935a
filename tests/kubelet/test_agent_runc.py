"""The real node agent against a real API server, running pods in runc containers on its own pod bridge.

One agent per test module (unique node name, bridge, subnet, nft table and cgroup root); everything it creates
is removed at the end (runtime `cleanup_all`, bridge `destroy`, cgroup dirs) and checked gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client.rest import APIError, Client
from kybernetes.images import bootstrap
from kybernetes.images.store import ImageStore
from kybernetes.kubelet.agent import Agent, AgentConfig
from kybernetes.network.bridge import BridgeNetwork
from kybernetes.runtime.runc import RuncRuntime

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runc") or not Path("/bin/busybox").exists(),
                                reason="needs root, runc and busybox-static")


@pytest.fixture
async def agent(client: Client, tmp_path: Path) -> AsyncIterator[Agent]:
    tag = secrets.token_hex(3)
    subnet = f"10.254.{secrets.randbelow(250) + 1}.0/24"
    cfg = AgentConfig(node_name=f"node-{tag}", data_dir=tmp_path / "agent", pod_cidr=subnet, cluster_cidr=subnet,
                      bridge=f"kybk{tag}", nft_table=f"kybk{tag}", cgroup_root=f"/kyb-test-{tag}",
                      lease_renew_interval=2.0, kubelet_port=0, offline=True)  # offline: no registry traffic
    images = ImageStore(cfg.data_dir / "images")
    bootstrap.bootstrap_busybox(images)
    net = BridgeNetwork(bridge=cfg.bridge, subnet=subnet, state_dir=cfg.data_dir / "network", nft_table=cfg.nft_table)
    runtime = RuncRuntime(cfg.data_dir / "runtime", network=net, cgroup_root=cfg.cgroup_root)
    a = Agent(client, cfg, runtime, images)
    task = asyncio.create_task(a.run())
    try:
        for _ in range(200):  # registered, informer synced, workers running
            if len(a._tasks) >= 3 or task.done():
                break
            await asyncio.sleep(0.05)
        assert not task.done(), task.exception()
        yield a
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await runtime.cleanup_all()
        await net.destroy()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            root = hierarchy / cfg.cgroup_root.strip("/")
            if root.is_dir():
                for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    d.rmdir()
                root.rmdir()
        with contextlib.suppress(APIError):
            await client.delete(f"/api/v1/nodes/{cfg.node_name}")
        with open("/proc/self/mountinfo") as f:
            assert str(cfg.data_dir) not in f.read()


def pod(name: str, node: str, command: list[str], restart: str = "Always", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "busybox", "command": command, **extra}]}}


async def wait_for(client: Client, path: str, check: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(APIError):
            last = await client.get(path)
            if check(last):
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out; last status: {last.get('status')}")


async def test_pod_runs_gets_an_ip_and_is_deleted(client: Client, namespace: str, agent: Agent) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/web"
    await client.create(f"/api/v1/namespaces/{namespace}/pods",
                        pod("web", agent.node_name, ["sh", "-c", "echo started; exec sleep 3600"]))
    running = await wait_for(client, path, lambda p: (p.get("status") or {}).get("phase") == "Running")
    status = running["status"]
    assert status["podIP"].startswith(agent.cfg.pod_cidr.rsplit(".", 1)[0] + ".")
    assert status["hostIP"] == "127.0.0.1"
    cs = status["containerStatuses"][0]
    assert cs["ready"] is True and "running" in cs["state"] and cs["containerID"].startswith("kyb://")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    reasons = await wait_for(client, f"/api/v1/namespaces/{namespace}/events",
                             lambda lst: {"Pulled", "Created", "Started"} <= {e["reason"] for e in lst["items"]})
    started = next(e for e in reasons["items"] if e["reason"] == "Started")
    assert (started["source"]["component"], started["involvedObject"]["name"]) == ("kubelet", "web")
    await client.delete(path)
    await wait_for(client, f"/api/v1/namespaces/{namespace}/pods", lambda lst: not lst["items"])
    assert not await agent.runner.known_pods()


async def test_exit_codes_and_restart_policies(client: Client, namespace: str, agent: Agent) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await client.create(base, pod("ok", agent.node_name, ["sh", "-c", "exit 0"], restart="Never"))
    await client.create(base, pod("bad", agent.node_name, ["sh", "-c", "exit 3"], restart="Never"))
    await client.create(base, pod("crash", agent.node_name, ["sh", "-c", "exit 1"], restart="Always"))
    ok = await wait_for(client, f"{base}/ok", lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
    assert ok["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    bad = await wait_for(client, f"{base}/bad", lambda p: (p.get("status") or {}).get("phase") == "Failed")
    term = bad["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")

    def backing_off(p: dict[str, Any]) -> bool:
        cs = ((p.get("status") or {}).get("containerStatuses") or [{}])[0]
        return cs.get("restartCount", 0) >= 1 and (cs.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"

    crash = await wait_for(client, f"{base}/crash", backing_off, timeout=30)
    cs = crash["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s restarting failed container=main" in cs["state"]["waiting"]["message"]


async def test_missing_image_is_err_image_pull(client: Client, namespace: str, agent: Agent) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    p = pod("noimg", agent.node_name, ["true"])
    p["spec"]["containers"][0]["image"] = "does-not-exist:1"
    await client.create(base, p)

    def waiting(obj: dict[str, Any]) -> bool:
        cs = ((obj.get("status") or {}).get("containerStatuses") or [{}])[0]
        return (cs.get("state") or {}).get("waiting", {}).get("reason") == "ErrImagePull"

    got = await wait_for(client, f"{base}/noimg", waiting)
    assert got["status"]["phase"] == "Pending"

    def backing_off(obj: dict[str, Any]) -> bool:
        cs = ((obj.get("status") or {}).get("containerStatuses") or [{}])[0]
        return (cs.get("state") or {}).get("waiting", {}).get("reason") == "ImagePullBackOff"

    got = await wait_for(client, f"{base}/noimg", backing_off)
    waiting_state = got["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting_state["message"] == 'Back-off pulling image "does-not-exist:1"'
    wanted = {("Failed", "Error: ErrImagePull"), ("BackOff", 'Back-off pulling image "does-not-exist:1"')}
    await wait_for(client, f"/api/v1/namespaces/{namespace}/events", lambda lst: wanted <= {
        (e["reason"], e["message"]) for e in lst["items"] if e["involvedObject"]["name"] == "noimg"})


async def test_restarted_agent_adopts_running_containers(client: Client, namespace: str, agent: Agent) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await client.create(base, pod("keep", agent.node_name, ["sleep", "3600"]))
    first = await wait_for(client, f"{base}/keep", lambda p: (p.get("status") or {}).get("phase") == "Running")
    cid = first["status"]["containerStatuses"][0]["containerID"]
    await agent.stop()
    again = Agent(client, agent.cfg, agent.runtime, agent.runner.images)
    task = asyncio.create_task(again.run())
    try:
        await asyncio.sleep(2.0)
        now = await client.get(f"{base}/keep")
        cs = now["status"]["containerStatuses"][0]
        assert (cs["containerID"], cs["restartCount"], now["status"]["podIP"]) == \
            (cid, 0, first["status"]["podIP"])
        assert len(await agent.runtime.list_containers()) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def test_probes_liveness_restarts_and_readiness_gates_ready(client: Client, namespace: str, agent: Agent) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    web = ["sh", "-c", "mkdir -p /www && echo ok > /www/ok && exec httpd -f -p 8080 -h /www"]
    ready_pod = pod("ready", agent.node_name, web, readinessProbe={
        "httpGet": {"path": "/ok", "port": 8080}, "periodSeconds": 1})
    never_ready = pod("unready", agent.node_name, web, readinessProbe={
        "httpGet": {"path": "/missing", "port": 8080}, "periodSeconds": 1})
    dying = pod("dying", agent.node_name, ["sleep", "3600"], livenessProbe={
        "exec": {"command": ["sh", "-c", "exit 1"]}, "periodSeconds": 1, "failureThreshold": 2})
    for p in (ready_pod, never_ready, dying):
        await client.create(base, p)

    def cond(p: dict[str, Any], type_: str) -> str:
        return {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}.get(type_, "")

    await wait_for(client, f"{base}/ready", lambda p: cond(p, "Ready") == "True")
    unready = await wait_for(client, f"{base}/unready", lambda p: (p.get("status") or {}).get("phase") == "Running")
    await asyncio.sleep(2.5)
    unready = await client.get(f"{base}/unready")
    assert cond(unready, "Ready") == "False" and unready["status"]["containerStatuses"][0]["ready"] is False

    restarted = await wait_for(client, f"{base}/dying",
                               lambda p: ((p.get("status") or {}).get("containerStatuses") or [{}])[0]
                               .get("restartCount", 0) >= 1, timeout=30)
    assert restarted["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"]
    unhealthy = [e["message"] for e in events if e["reason"] == "Unhealthy"]
    assert any(m.startswith("Liveness probe failed") for m in unhealthy), unhealthy
    assert any(m == "Readiness probe failed: HTTP probe failed with statuscode: 404" for m in unhealthy), unhealthy
    assert any(e["reason"] == "Killing" and e["message"] == "Container main failed liveness probe, will be restarted"
               for e in events)


async def test_lifecycle_hooks(client: Client, namespace: str, agent: Agent, tmp_path: Path) -> None:
    """postStart runs before the pod is reported running; preStop runs on deletion before the stop signal; a
    failing postStart kills the container (FailedPostStartHook) and it is restarted."""
    base = f"/api/v1/namespaces/{namespace}/pods"
    shared = tmp_path / "hooks"
    shared.mkdir()
    volume = {"volumes": [{"name": "h", "hostPath": {"path": str(shared)}}]}
    mounts = [{"name": "h", "mountPath": "/h"}]
    hooked = pod("hooked", agent.node_name, ["sh", "-c", "trap 'echo term >> /h/log; exit 0' TERM; "
                                                         "while true; do sleep 0.1; done"],
                 volumeMounts=mounts, lifecycle={
                     "postStart": {"exec": {"command": ["sh", "-c", "echo post-start >> /h/log"]}},
                     "preStop": {"exec": {"command": ["sh", "-c", "echo pre-stop >> /h/log"]}}})
    hooked["spec"].update(volume, terminationGracePeriodSeconds=5)
    failing = pod("failing", agent.node_name, ["sleep", "3600"], lifecycle={
        "postStart": {"exec": {"command": ["sh", "-c", "echo nope; exit 7"]}}})
    await client.create(base, hooked)
    await client.create(base, failing)
    await wait_for(client, f"{base}/hooked", lambda p: (p.get("status") or {}).get("phase") == "Running")
    assert (shared / "log").read_text() == "post-start\n"
    await client.delete(f"{base}/hooked")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(APIError):
            await client.get(f"{base}/hooked")
            await asyncio.sleep(0.1)
            continue
        break
    assert (shared / "log").read_text() == "post-start\npre-stop\nterm\n"

    restarted = await wait_for(client, f"{base}/failing",
                               lambda p: ((p.get("status") or {}).get("containerStatuses") or [{}])[0]
                               .get("restartCount", 0) >= 1, timeout=30)
    assert restarted["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"]
    failed = [e["message"] for e in events if e["reason"] == "FailedPostStartHook"]
    assert failed and failed[0].startswith("Exec lifecycle hook ([sh -c echo nope; exit 7]) for Container \"main\" "
                                           f"in Pod \"failing_{namespace}(") and 'message: "nope"' in failed[0], failed
    assert any(e["reason"] == "Killing" and e["message"] == "FailedPostStartHook" for e in events)


async def test_a_status_written_by_someone_else_is_put_right(client: Client, namespace: str, agent: Agent) -> None:
    """The agent skips the watch echo of its own status patches, but not a status another writer changed."""
    base = f"/api/v1/namespaces/{namespace}/pods"
    await client.create(base, pod("own", agent.node_name, ["sleep", "3600"]))
    running = await wait_for(client, f"{base}/own", lambda p: (p.get("status") or {}).get("phase") == "Running")
    ip = running["status"]["podIP"]
    await asyncio.sleep(2.0)  # settled: no sync of the agent's own is pending any more
    await client.patch(f"{base}/own/status", {"status": {"podIP": "192.0.2.1", "podIPs": [{"ip": "192.0.2.1"}]}})
    fixed = await wait_for(client, f"{base}/own", lambda p: p["status"].get("podIP") == ip, timeout=10)
    assert fixed["status"]["podIPs"] == [{"ip": ip}]
