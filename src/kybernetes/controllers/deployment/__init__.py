"""The deployment controller: rolling out pod templates through ReplicaSets.

Modules, from pure to I/O: ``util`` (vocabulary, fenceposts, hashing, orderings), ``history``
(revision annotations, pruning), ``rolling`` (RollingUpdate and Recreate steps), ``scaling``
(proportional scaling), ``status`` and ``progress`` (counters and conditions), ``sync`` (one
deployment's sync and its writes), ``controller`` (informers, handlers, queue).

Entry points for ``kyb server`` / ``kyb controller-manager``: :func:`run_deployment_controller`
alone, or :func:`run_workload_controllers` for the ReplicaSet, ReplicationController and
Deployment controllers sharing one pod cache and one ReplicaSet cache.
"""

from __future__ import annotations

import asyncio

import aiohttp

from kybernetes.client.informer import Informer
from kybernetes.client.rest import Client
from kybernetes.controllers.deployment.controller import (
    DeploymentController,
    pod_informer,
    replicaset_informer,
)
from kybernetes.controllers.replicaset import REPLICASET, REPLICATION_CONTROLLER, ReplicaSetController

__all__ = ["DeploymentController", "run_deployment_controller", "run_workload_controllers"]


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))


async def run_deployment_controller(url: str) -> None:
    """Run the deployment controller against the API server at ``url`` until cancelled."""
    session = _session()
    try:
        await DeploymentController(Client(url, session)).run()
    finally:
        await session.close()


async def run_workload_controllers(url: str) -> None:
    """ReplicaSet, ReplicationController and Deployment controllers in one task group, sharing
    the pod and ReplicaSet caches, until cancelled."""
    session = _session()
    client = Client(url, session)
    pods, replicasets = pod_informer(client), replicaset_informer(client)
    shared: list[Informer] = [pods, replicasets]
    try:
        for inf in shared:
            inf.start()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(ReplicaSetController(client, REPLICASET, owners=replicasets, pods=pods).run())
            tg.create_task(ReplicaSetController(client, REPLICATION_CONTROLLER, pods=pods).run())
            tg.create_task(DeploymentController(client, replicasets=replicasets, pods=pods).run())
    finally:
        for inf in shared:
            await inf.stop()
        await session.close()
