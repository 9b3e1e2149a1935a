"""DefaultBinder: write the decision with ``POST /api/v1/namespaces/<ns>/pods/<name>/binding``.

The API server sets ``spec.nodeName`` and the ``PodScheduled=True`` condition
in one write and refuses (409) a pod already bound or being deleted; those
answers come back as an ``ERROR`` status for the scheduler to handle.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from kybernetes.client.rest import APIError, Client
from kybernetes.scheduler.framework import BindPlugin, CycleState
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.status import SUCCESS, Status, as_status


class DefaultBinder(BindPlugin):
    name = "DefaultBinder"

    def __init__(self, client: Client | None):
        self.client = client

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        if self.client is None:
            return as_status("no API client to bind with")
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        try:
            await self.client.create(f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/binding", body)
        except (APIError, aiohttp.ClientError, OSError, TimeoutError) as e:
            return as_status(e)
        return SUCCESS


def new(args: dict[str, Any], handle: Any) -> DefaultBinder:
    return DefaultBinder(handle.client if handle is not None else None)
