"""Container lifecycle hooks: ``postStart`` and ``preStop`` (exec, httpGet, tcpSocket, sleep).

Upstream's behaviour, which this follows:

* ``postStart`` runs right after the container starts; the container is not reported started (no ``Started``
  event) until it returns.  A failure records a ``FailedPostStartHook`` warning and the container is killed
  (``Killing`` with the same reason) and then restarted as its ``restartPolicy`` says.  Upstream puts no time
  limit on it; here it is bounded by `POST_START_LIMIT` so a hook that hangs cannot hold the pod worker forever.
* ``preStop`` runs before the stop signal when a container is stopped for the pod's deletion, within the grace
  period; whatever it used is taken off the grace period left for the signal, which keeps at least
  `MIN_STOP_GRACE` seconds (upstream's minimum).  A failure records ``FailedPreStopHook``; the stop goes on.

`hook_error` formats the failure text the way the kubelet does (``Exec lifecycle hook ([cmd]) for Container "c"
in Pod "p_ns(uid)" failed - error: ..., message: "..."``).  Running the handler is `prober.run_handler`'s job;
``sleep`` is handled here (it runs in the agent, not in the container).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.runtime import api as rt

from . import prober
from .backoff import format_pod
from .probes_plan import SUCCESS

POST_START_LIMIT = 120.0
MIN_STOP_GRACE = 2.0


def handler_of(container: Mapping[str, Any], hook: str) -> Mapping[str, Any] | None:
    """The container's ``lifecycle.<hook>`` handler, if it names an action."""
    h = (container.get("lifecycle") or {}).get(hook)
    if not isinstance(h, Mapping) or not any(k in h for k in ("exec", "httpGet", "tcpSocket", "sleep")):
        return None
    return h


def hook_error(handler: Mapping[str, Any], container: str, pod: Mapping[str, Any], error: str, output: str) -> str:
    """The kubelet's text for a failed hook (pure)."""
    if "exec" in handler:
        what = f"Exec lifecycle hook ([{' '.join((handler['exec'] or {}).get('command') or [])}])"  # Go's %v
    elif "httpGet" in handler:
        what = f"HTTP lifecycle hook ({(handler['httpGet'] or {}).get('path') or '/'})"
    elif "sleep" in handler:
        what = "Sleep lifecycle hook"
    else:
        what = "TCP lifecycle hook"
    return f'{what} for Container "{container}" in Pod "{format_pod(pod)}" failed - error: {error}, message: "{output}"'


def remaining_grace(grace: float, used: float) -> float:
    """The grace period left for the stop signal after a ``preStop`` hook ran for ``used`` seconds (pure)."""
    return max(grace - used, MIN_STOP_GRACE)


async def run_hook(handler: Mapping[str, Any], container: Mapping[str, Any], pod: Mapping[str, Any], *,
                   runtime: rt.Runtime, container_id: str, pod_ip: str, timeout: float) -> str | None:
    """Run one hook; None on success, else the failure text for the ``Failed...Hook`` event."""
    if "sleep" in handler:
        seconds = float((handler["sleep"] or {}).get("seconds") or 0)
        await asyncio.sleep(max(0.0, min(seconds, timeout)))
        return None
    result, output = await prober.run_handler(handler, container, runtime=runtime, container_id=container_id,
                                              pod_ip=pod_ip, timeout=timeout)
    if result == SUCCESS:
        return None
    if "exec" in handler:
        error = f"command '{' '.join((handler['exec'] or {}).get('command') or [])}' failed"
        return hook_error(handler, container.get("name", ""), pod, error, output)
    return hook_error(handler, container.get("name", ""), pod, output or "failed", "")


async def pre_stop(pod: Mapping[str, Any], container: Mapping[str, Any], *, runtime: rt.Runtime,
                   container_id: str, pod_ip: str, grace: float) -> tuple[float, str | None]:
    """Run the container's ``preStop`` hook (if any) within ``grace``; the grace left and a failure text."""
    handler = handler_of(container, "preStop")
    if handler is None or grace <= 0:
        return grace, None
    began = time.monotonic()
    try:
        error = await asyncio.wait_for(run_hook(handler, container, pod, runtime=runtime, container_id=container_id,
                                                pod_ip=pod_ip, timeout=grace), grace)
    except TimeoutError:
        error = hook_error(handler, container.get("name", ""), pod, "context deadline exceeded", "")
    return remaining_grace(grace, time.monotonic() - began), error
