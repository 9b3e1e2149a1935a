"""The controller manager: every controller, supervised, against one API server URL.

``kyb server`` runs it beside the API server (as a task, talking over loopback
HTTP); ``kyb controller-manager --kubeconfig PATH`` runs it alone against any
server.  Each controller is an independent coroutine; one that fails is logged
and restarted with backoff, so a bug in one never stops the others.  Every
controller rebuilds its state from the API when it starts, so a restart at any
moment converges to the same result.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kybernetes.controllers.manager")

Runner = Callable[[str], Coroutine[Any, Any, None]]


@dataclass
class ManagerOptions:
    root_ca_pem: str | None = None
    node_grace_period: float = 40.0
    eviction_timeout: float | None = None
    disabled: frozenset[str] = frozenset()


def controllers(opts: ManagerOptions) -> dict[str, Runner]:
    """Name -> runner of every controller this manager starts."""
    from kybernetes.controllers.deployment import run_deployment_controller
    from kybernetes.controllers.garbagecollector import run_garbage_collector
    from kybernetes.controllers.namespace import run_namespace_controller
    from kybernetes.controllers.nodelifecycle import run_node_lifecycle_controller
    from kybernetes.controllers.podgc import run_pod_gc
    from kybernetes.controllers.replicaset import (
        run_replicaset_controller,
        run_replicationcontroller_controller,
    )
    from kybernetes.controllers.rootca import run_rootca_publisher
    from kybernetes.controllers.serviceaccount import run_serviceaccount_controller

    out: dict[str, Runner] = {
        "namespace": run_namespace_controller,
        "garbagecollector": run_garbage_collector,
        "replicaset": run_replicaset_controller,
        "replicationcontroller": run_replicationcontroller_controller,
        "deployment": run_deployment_controller,
        "nodelifecycle": functools.partial(run_node_lifecycle_controller, grace_period=opts.node_grace_period,
                                           eviction_timeout=opts.eviction_timeout),
        "podgc": run_pod_gc,
        "serviceaccount": run_serviceaccount_controller,
    }
    if opts.root_ca_pem:
        out["root-ca-cert-publisher"] = functools.partial(run_rootca_publisher, ca_pem=opts.root_ca_pem)
    return {name: run for name, run in out.items() if name not in opts.disabled}


async def supervise(name: str, run: Runner, url: str) -> None:
    """Run one controller forever, restarting it (with backoff) when it fails."""
    delay = 1.0
    while True:
        try:
            await run(url)
            log.warning("controller %s returned; restarting", name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("controller %s failed; restarting in %.0fs", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 60.0)


async def run_controller_manager(url: str, opts: ManagerOptions | None = None) -> None:
    opts = opts or ManagerOptions()
    runners = controllers(opts)
    tasks = [asyncio.create_task(supervise(name, run, url), name=f"controller-{name}")
             for name, run in runners.items()]
    log.debug("controller manager running: %s", ", ".join(runners))
    try:
        await asyncio.gather(*tasks)
    finally:
        # A cancelled gather has already cancelled every task; cancelling one again would interrupt its own
        # cleanup (closing its informers and session) half-way.
        for t in tasks:
            if not t.done() and not t.cancelling():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
