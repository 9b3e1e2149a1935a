"""Running probes (exec, httpGet, tcpSocket) and lifecycle hooks: the "do" half of `probes_plan`.

Each function runs one check with its timeout and returns ``(result, output)`` in `probes_plan`'s vocabulary:
``success``, ``failure`` (with upstream's output text, which becomes the ``Unhealthy`` event message) or
``error`` (the probe could not run at all). HTTP and TCP checks go to the pod's IP, which the node reaches
directly on its pod bridge; named ports resolve against the container's ``ports``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from kybernetes.runtime import api as rt

from .probes_plan import ERROR, FAILURE, SUCCESS, http_failure_output


def _port(container: Mapping[str, Any], port: Any) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"unable to find port {port!r} in container")


async def run_handler(handler: Mapping[str, Any], container: Mapping[str, Any], *, runtime: rt.Runtime,
                      container_id: str, pod_ip: str, timeout: float) -> tuple[str, str]:
    """One probe or lifecycle handler (exec / httpGet / tcpSocket)."""
    try:
        if "exec" in handler:
            cmd = list((handler["exec"] or {}).get("command") or [])
            try:
                res = await runtime.exec_sync(container_id, cmd, timeout)
            except rt.Timeout:
                return FAILURE, f"command {cmd!r} timed out"
            output = (res.stdout + res.stderr).decode(errors="replace").strip()
            return (SUCCESS, output) if res.exit_code == 0 else (FAILURE, output or f"command exited {res.exit_code}")
        if "httpGet" in handler:
            h = handler["httpGet"] or {}
            host = h.get("host") or pod_ip
            port = _port(container, h.get("port"))
            path = h.get("path") or "/"
            url = f"{(h.get('scheme') or 'HTTP').lower()}://{host}:{port}{path if path.startswith('/') else '/' + path}"
            headers = {x["name"]: x.get("value", "") for x in h.get("httpHeaders") or [] if x.get("name")}
            headers.setdefault("User-Agent", "kube-probe/1.33")
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                        session.get(url, headers=headers, allow_redirects=False, ssl=False) as resp:
                    body = (await resp.content.read(10 * 1024)).decode(errors="replace")
                    if 200 <= resp.status < 400:
                        return SUCCESS, body
                    return FAILURE, http_failure_output(resp.status)
            except TimeoutError:
                return FAILURE, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
            except aiohttp.ClientError as e:
                return FAILURE, f'Get "{url}": {e}'
        if "tcpSocket" in handler:
            t = handler["tcpSocket"] or {}
            host = t.get("host") or pod_ip
            port = _port(container, t.get("port"))
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            except TimeoutError:
                return FAILURE, f"dial tcp {host}:{port}: i/o timeout"
            except OSError as e:
                return FAILURE, f"dial tcp {host}:{port}: connect: {(e.strerror or str(e)).lower()}"
            writer.close()
            return SUCCESS, ""
    except (ValueError, rt.RuntimeError_) as e:
        return ERROR, str(e)
    return ERROR, "missing probe handler"
