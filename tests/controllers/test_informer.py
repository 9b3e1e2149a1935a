"""The informer against the real API server (list pages, watch, resume, indexes), and against a
scripted fake server for what a healthy server rarely does (410 Expired, errors, dead watches)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.client.informer import Backoff, Informer, object_key
from kybernetes.client.rest import Client
from tests.controllers.conftest import wait_until


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", object_key(obj)))

    def update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", object_key(new)))

    def delete(self, obj: dict[str, Any]) -> None:
        self.events.append(("delete", object_key(obj)))


def configmap(name: str, label: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"t": label}},
            "data": data}


async def test_list_pages_watch_and_indexes(client: Client, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(5):
        await client.create(base, configmap(f"cm-{i}", namespace, parity=str(i % 2)))
    rec = Recorder()
    inf = Informer(client, "", "v1", "configmaps", label_selector=f"t={namespace}", page_size=2)
    inf.add_index("parity", lambda o: [o.get("data", {}).get("parity", "")])
    inf.add_event_handler(rec.add, rec.update, rec.delete)
    async with inf:
        assert await inf.wait_synced(5)
        assert inf.lists == 1 and len(inf) == 5
        assert sorted(rec.events) == [("add", f"{namespace}/cm-{i}") for i in range(5)]
        assert {o["metadata"]["name"] for o in inf.by_index("parity", "0")} == {"cm-0", "cm-2", "cm-4"}
        rec.events.clear()

        await client.patch(f"{base}/cm-0", {"data": {"parity": "1"}})
        await client.delete(f"{base}/cm-1")
        await client.create(base, configmap("cm-9", namespace, parity="1"))
        await client.create(base, configmap("other", "nope"))  # not selected
        await wait_until(lambda: _true(len(rec.events) >= 3), "three events")
        assert rec.events == [("update", f"{namespace}/cm-0"), ("delete", f"{namespace}/cm-1"),
                              ("add", f"{namespace}/cm-9")]
        assert {o["metadata"]["name"] for o in inf.by_index("parity", "1")} == {"cm-0", "cm-3", "cm-9"}
        assert inf.index_keys("parity", "0") == {f"{namespace}/cm-2", f"{namespace}/cm-4"}
        assert inf.get(f"{namespace}/cm-1") is None
        assert inf.resource_version == (await client.get(f"{base}/cm-9"))["metadata"]["resourceVersion"]


async def _true(value: bool) -> bool:
    return value


async def test_watch_resumes_without_listing_again(client: Client, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    rec = Recorder()
    # The server ends each watch after a second; the informer must pick up where it was.
    inf = Informer(client, "", "v1", "configmaps", namespace=namespace, watch_timeout=lambda: 1)
    inf.add_event_handler(rec.add, rec.update, rec.delete)
    async with inf:
        await inf.wait_synced(5)
        await client.create(base, configmap("before", namespace))
        await asyncio.sleep(1.2)  # let the first watch end (a server-side timeout we cannot poll for)
        await client.create(base, configmap("after", namespace))
        await wait_until(lambda: _true(("add", f"{namespace}/after") in rec.events), "the second add")
        assert inf.lists == 1
        assert rec.events.count(("add", f"{namespace}/before")) == 1


async def test_metadata_only_with_transform_and_big_objects(client: Client, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    big = "x" * 300_000  # one watch line far above aiohttp's 128 KiB line limit
    seen: list[dict[str, Any]] = []
    full = Informer(client, "", "v1", "configmaps", namespace=namespace)
    full.add_event_handler(seen.append)
    meta = Informer(client, "", "v1", "configmaps", namespace=namespace, metadata_only=True,
                    transform=lambda o: {"metadata": {"name": o["metadata"]["name"]}, "kind": o["kind"]})
    async with full, meta:
        await full.wait_synced(5)
        await meta.wait_synced(5)
        await client.create(base, configmap("big", namespace, blob=big))
        await wait_until(lambda: _true(meta.get("big") is not None and full.get(f"{namespace}/big") is not None),
                         "the big object in both caches")
    assert seen[-1]["data"]["blob"] == big
    # transformed: no namespace left, so the key is the bare name; PartialObjectMetadata, not ConfigMap
    assert meta.get("big") == {"metadata": {"name": "big"}, "kind": "PartialObjectMetadata"}


def test_backoff_doubles_to_a_cap_and_resets() -> None:
    b = Backoff(initial=0.5, maximum=3.0, jitter=0.5, rand=lambda: 0.0)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5
    assert Backoff(initial=1.0, jitter=0.5, rand=lambda: 1.0).next() == 1.5


async def test_backs_off_while_the_server_is_unreachable() -> None:
    attempts: list[int] = []

    def rand() -> float:  # called once per retry
        attempts.append(1)
        return 0.0
    backoff = Backoff(initial=0.01, maximum=0.02, rand=rand)
    client = Client("http://127.0.0.1:1")  # nothing listens on port 1
    inf = Informer(client, "", "v1", "configmaps", backoff=backoff)
    async with inf:
        await wait_until(lambda: _true(len(attempts) >= 3), "three retries")
        assert not inf.has_synced and not await inf.wait_synced(0.01)
    await client.close()


# -- a scripted server ------------------------------------------------------------------

def cm(name: str, rv: str) -> dict[str, Any]:
    return {"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


class Script:
    """Answers LISTs from ``lists`` and WATCHes from ``watches`` in order; then blocks until closed."""

    def __init__(self, lists: list[Any], watches: list[Any]):
        self.lists, self.watches = lists, watches
        self.requests: list[tuple[str, str]] = []
        self.closed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        watching = request.query.get("watch") == "true"
        self.requests.append(("watch" if watching else "list", request.query.get("resourceVersion", "")))
        steps = self.watches if watching else self.lists
        if not steps:
            await self.closed.wait()
            return web.Response(status=503)
        step = steps.pop(0)
        if isinstance(step, int):
            return web.json_response({"kind": "Status", "code": step, "reason": "Expired", "message": "gone"},
                                     status=step)
        if not watching:
            return web.json_response(step)
        resp = web.StreamResponse()
        await resp.prepare(request)
        for ev in step:
            await resp.write(orjson.dumps(ev) + b"\n")
        await resp.write_eof()
        return resp


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Script, Client]]:
    script = Script([], [])
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", script.handle)
    server = TestServer(app)
    await server.start_server()
    client = Client(str(server.make_url("")))
    yield script, client
    await client.close()
    script.closed.set()
    await server.close()


async def test_relists_on_expired_and_reports_the_difference(scripted: tuple[Script, Client]) -> None:
    script, client = scripted
    script.lists += [
        {"metadata": {"resourceVersion": "10", "continue": "p2"}, "items": [cm("a", "5")]},
        {"metadata": {"resourceVersion": "10"}, "items": [cm("b", "6"), cm("c", "7")]},
        503,  # the relist fails once: back off, try again
        {"metadata": {"resourceVersion": "30"}, "items": [cm("b", "21"), cm("c", "7"), cm("d", "22")]},
    ]
    script.watches += [
        [{"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "12"}}},
         {"type": "MODIFIED", "object": cm("a", "13")}],  # then the stream ends: resume from 13
        [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                      "message": "too old resource version: 13 (20)"}}],
        [{"type": "DELETED", "object": cm("d", "31")}],
        410,  # HTTP 410 on a watch: list again
    ]
    rec = Recorder()
    inf = Informer(client, "", "v1", "configmaps", backoff=Backoff(initial=0.01, rand=lambda: 0.0))
    inf.add_event_handler(rec.add, rec.update, rec.delete)
    async with inf:
        await wait_until(lambda: _true(len(script.requests) >= 9), "the script to play out", timeout=5)
    assert script.requests == [("list", ""), ("list", ""), ("watch", "10"), ("watch", "13"),
                               ("list", ""), ("list", ""), ("watch", "30"), ("watch", "31"), ("list", "")]
    assert rec.events == [("add", "ns/a"), ("add", "ns/b"), ("add", "ns/c"), ("update", "ns/a"),
                          ("delete", "ns/a"), ("update", "ns/b"), ("add", "ns/d"), ("delete", "ns/d")]
    assert inf.lists == 2 and inf.resource_version == "31"


async def test_a_failing_handler_does_not_stop_the_informer(scripted: tuple[Script, Client]) -> None:
    script, client = scripted
    script.lists.append({"metadata": {"resourceVersion": "1"}, "items": [cm("a", "1")]})
    script.watches.append([{"type": "ADDED", "object": cm("b", "2")}])
    seen: list[str] = []

    def broken(obj: dict[str, Any]) -> None:
        seen.append(obj["metadata"]["name"])
        raise RuntimeError("handler bug")
    inf = Informer(client, "", "v1", "configmaps")
    inf.add_event_handler(broken)
    async with inf:
        await wait_until(lambda: _true(len(seen) == 2), "both adds")
        assert inf.keys() == ["ns/a", "ns/b"]
