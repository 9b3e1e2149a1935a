"""The component's edges: the standalone entry point's kubeconfig reading and the bounded Event sink."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from kybernetes.client.rest import Client
from kybernetes.scheduler.__main__ import server_from_kubeconfig
from kybernetes.scheduler.eventsink import EventSink


def test_server_from_kubeconfig_follows_the_current_context(tmp_path: Path) -> None:
    cfg = {"clusters": [{"name": "a", "cluster": {"server": "http://127.0.0.1:1"}},
                        {"name": "b", "cluster": {"server": "http://127.0.0.1:2"}}],
           "contexts": [{"name": "ctx-b", "context": {"cluster": "b"}}], "current-context": "ctx-b"}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    assert server_from_kubeconfig(str(path)) == "http://127.0.0.1:2"
    del cfg["current-context"]
    path.write_text(yaml.safe_dump(cfg))
    assert server_from_kubeconfig(str(path)) == "http://127.0.0.1:1"


async def test_event_sink_posts_with_bounded_backlog(client: Client, namespace: str) -> None:
    sink = EventSink(client, "test-scheduler", workers=1, backlog=2)
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": namespace, "uid": "u1"}}
    for i in range(5):
        sink.event(pod, "Normal", "Scheduled", f"message {i}")
    assert sink.dropped == 3, "the backlog keeps two; Events never hold the scheduler up"
    await sink.flush()
    await sink.close()
    events = (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"]
    assert sorted(e["message"] for e in events) == ["message 0", "message 1"]
    assert {e["source"]["component"] for e in events} == {"test-scheduler"}


async def test_event_sink_holds_events_while_busy(client: Client, namespace: str) -> None:
    busy = True
    sink = EventSink(client, "test-scheduler", workers=2, backlog=100, hold=lambda: busy)
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": namespace, "uid": "u2"}}
    sink.event(pod, "Normal", "Scheduled", "first")
    sink.event(pod, "Normal", "Scheduled", "second")
    await asyncio.sleep(0.3)
    assert (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"] == [], "held while busy"
    busy = False
    await sink.flush()
    await sink.close()
    events = (await client.get(f"/api/v1/namespaces/{namespace}/events"))["items"]
    assert sorted(e["message"] for e in events) == ["first", "second"]
