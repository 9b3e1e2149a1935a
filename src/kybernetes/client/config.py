"""Read a kubeconfig: the server URL of its current (or a named) context.

Components started as their own process (``kyb controller-manager``,
``kyb scheduler``, ``kyb agent``) find the API server this way.  Only what the
server offers today is read: the cluster's ``server`` address (no credentials yet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(Exception):
    """The kubeconfig is missing, malformed or names no usable cluster."""


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for e in entries or []:
        if isinstance(e, dict) and e.get("name") == name:
            body = e.get(what)
            if isinstance(body, dict):
                return body
    raise KubeconfigError(f'{what} "{name}" not found in kubeconfig')


def server_url(path: str | Path, context: str | None = None) -> str:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise KubeconfigError(f"kubeconfig {path} does not exist") from None
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {e}") from None
    if not isinstance(data, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig")
    ctx_name = context or data.get("current-context")
    if not ctx_name:
        raise KubeconfigError(f"kubeconfig {path} has no current-context")
    ctx = _named(data.get("contexts"), ctx_name, "context")
    cluster = _named(data.get("clusters"), str(ctx.get("cluster", "")), "cluster")
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f'cluster "{ctx.get("cluster")}" in {path} has no server address')
    return server.rstrip("/")
