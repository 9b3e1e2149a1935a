"""Recording Events the way upstream's event recorder does, over the API.

``recorder.event(obj, "Normal", "SuccessfulCreate", "Created pod: web-abc12")``
posts a ``v1 Event`` about ``obj`` (involvedObject from its kind, name,
namespace, uid, apiVersion, resourceVersion) with ``source.component`` and
``reportingComponent`` set to the component's name.  Repeats of the same
(object, type, reason, message) within the aggregation window are counted on
the existing Event (``count`` and ``lastTimestamp`` patched) instead of a new
object, as upstream's correlator does, so ``kubectl describe`` shows
``x3 over 10s``.  Posting is fire-and-forget on a background task: an Event
that cannot be written is logged and dropped, never an error for the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kybernetes.client.rest import APIError, Client

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
AGGREGATION_WINDOW = 600.0  # seconds a repeat is folded into the same Event


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        # (ns, uid, type, reason, message) -> (event name, count, first seen monotonic)
        self._seen: dict[tuple[str, str, str, str, str], tuple[str, int, float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        task = asyncio.get_running_loop().create_task(self._post(obj, type_, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        ref = involved_object(obj)
        ns = ref.get("namespace") or "default"
        key = (ns, ref.get("uid", ref.get("name", "")), type_, reason, message)
        now = self.clock()
        loop_now = asyncio.get_running_loop().time()
        if len(self._seen) > 4096:
            # Forget aggregation state older than the window, so the table stays bounded.
            self._seen = {k: v for k, v in self._seen.items() if loop_now - v[2] < AGGREGATION_WINDOW}
        seen = self._seen.get(key)
        try:
            if seen is not None and loop_now - seen[2] < AGGREGATION_WINDOW:
                name, count, first = seen
                await self.client.patch(f"/api/v1/namespaces/{ns}/events/{name}",
                                        {"count": count + 1, "lastTimestamp": _ts(now)})
                self._seen[key] = (name, count + 1, first)
                return
            body = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{ref.get('name', 'event')}.", "namespace": ns},
                "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": _ts(now), "lastTimestamp": _ts(now), "count": 1,
                "reportingComponent": self.component, "reportingInstance": self.host or self.component,
            }
            created = await self.client.create(f"/api/v1/namespaces/{ns}/events", body)
            self._seen[key] = (created["metadata"]["name"], 1, loop_now)
        except APIError as e:
            if seen is not None and e.code == 404:
                self._seen.pop(key, None)  # the aggregated Event went away: start a new one next time
            log.debug("event %s/%s not recorded: %s", reason, ref.get("name"), e)
        except (TimeoutError, OSError) as e:
            log.debug("event %s/%s not recorded: %s", reason, ref.get("name"), e)

    async def flush(self) -> None:
        """Wait for the Events posted so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await t
