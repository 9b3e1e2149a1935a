"""Run the API server process: listen, write the kubeconfig, stop cleanly on a signal.

``serve`` opens the store under the data dir, starts :class:`APIServer`, binds
the listen address (loopback only until authentication and TLS exist), writes
or merges the kubeconfig, logs one ``ready`` line and then waits for SIGTERM or
SIGINT, on which it stops accepting, lets requests finish briefly, closes
watches and the store, and returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kybernetes.apiserver.app import DEFAULT_SERVICE_CIDR, APIServer
from kybernetes.apiserver.listen import ConfigError, bind_listener, parse_listen, url_of  # noqa: F401 - re-exported
from kybernetes.storage import open_backend

log = logging.getLogger("kybernetes.server")

CONTEXT = "kyb"


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 6443
    kubeconfig: Path | None = None
    service_cidr: str = DEFAULT_SERVICE_CIDR
    # extra coroutines to run beside the server (controllers), given the server URL
    companions: list[Callable[[str], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # a socket already bound to host:port (`bind_listener`), so its URL can be handed out before the server runs
    sock: socket.socket | None = None


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path.home() / ".kube" / "config"


def _upsert(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    out = [e for e in entries if isinstance(e, dict) and e.get("name") != name]
    out.append({"name": name, key: value})
    return out


def write_kubeconfig(path: Path, server_url: str) -> None:
    """Merge a ``kyb`` cluster, user and context into ``path`` and make it current (as kind does)."""
    config: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text())
            if isinstance(loaded, dict):
                config = loaded
        except (yaml.YAMLError, OSError):
            config = {}
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    config.setdefault("preferences", {})
    config["clusters"] = _upsert(config.get("clusters") or [], CONTEXT, "cluster", {"server": server_url})
    config["users"] = _upsert(config.get("users") or [], CONTEXT, "user", {})
    config["contexts"] = _upsert(config.get("contexts") or [], CONTEXT, "context",
                                 {"cluster": CONTEXT, "user": CONTEXT})
    config["current-context"] = CONTEXT
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


async def serve(cfg: ServerConfig, stop: asyncio.Event | None = None,
                on_ready: Callable[[str], None] | None = None) -> None:
    started = time.monotonic()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    backend = open_backend(str(cfg.data_dir / "state.db"))
    # Bind first so the kubernetes Service can advertise the real port.
    sock = cfg.sock or bind_listener(cfg.host, cfg.port)
    port = sock.getsockname()[1]
    server = APIServer(backend, service_cidr=cfg.service_cidr, advertise_port=port)
    await server.start()
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{host}:{port}"
    kubeconfig = cfg.kubeconfig or default_kubeconfig()
    write_kubeconfig(kubeconfig, url)
    companions = [asyncio.create_task(c(url)) for c in cfg.companions]
    log.info("kyb API server ready at %s (kubeconfig %s, data %s) in %.2fs", url, kubeconfig, cfg.data_dir,
             time.monotonic() - started)
    if on_ready is not None:
        on_ready(url)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        for t in companions:
            t.cancel()
        await asyncio.gather(*companions, return_exceptions=True)
        await server.cache.stop()  # ends open watches so the runner can finish
        await runner.cleanup()
        await server.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
