"""The API server application: storage, watch cache, routes and middleware.

:class:`APIServer` owns the parts and their lifecycle (``start`` opens the
backend, fills the watch cache, rebuilds allocations and creates the system
namespaces; ``stop`` reverses it).  :meth:`APIServer.app` builds the aiohttp
application: health and version endpoints, metrics, discovery, OpenAPI and the
resource handlers behind one error middleware that turns every failure into a
``Status`` (a client's mistake is a 4xx; anything else is logged and a 500
``InternalError``, never a bare error page).
"""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kybernetes import KUBERNETES_VERSION, __version__
from kybernetes.api import errors
from kybernetes.api.registry import RESOURCES, by_plural
from kybernetes.apiserver import discovery, openapi_routes, requestinfo
from kybernetes.apiserver.admission import Admission
from kybernetes.apiserver.handlers import ResourceHandlers, not_found_path
from kybernetes.apiserver.http import json_response, status_response
from kybernetes.apiserver.metrics import Metrics
from kybernetes.apiserver.store import Store
from kybernetes.apiserver.watchcache import WatchCache
from kybernetes.storage.backend import Backend, KeyExistsError

log = logging.getLogger("kybernetes.apiserver")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def version_info() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.split(".")
    return {
        "major": major, "minor": minor, "gitVersion": f"v{KUBERNETES_VERSION}+kyb.{__version__}",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-11-22T00:00:00Z", "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython", "platform": f"{platform.system().lower()}/{_arch()}",
    }


def _arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


class APIServer:
    def __init__(self, backend: Backend, *, service_cidr: str = DEFAULT_SERVICE_CIDR,
                 advertise_port: int = 443):
        self.backend = backend
        self.cache = WatchCache(backend)
        self.admission = Admission(backend, self.cache, service_cidr)
        self.store = Store(backend, self.cache, self.admission)
        self.handlers = ResourceHandlers(self.store)
        self.metrics = Metrics(self._object_counts, lambda: self.cache.watcher_count)
        self.advertise_port = advertise_port
        self.ready = False
        self._background: list[asyncio.Task[Any]] = []

    def _object_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in RESOURCES:
            if r.storage_resource and r.group:
                continue  # counted under the group that stores it
            out[r.qualified] = self.cache.count(r.storage_prefix)
        return out

    async def start(self) -> None:
        await self.backend.start()
        await self.cache.start()
        self.admission.load()
        await self._bootstrap()
        compact = getattr(self.backend, "compact_periodically", None)
        if compact is not None:
            self._background.append(asyncio.create_task(compact(60.0, 10000), name="compactor"))
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for t in self._background:
            t.cancel()
        for t in self._background:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        await self.cache.stop()
        await self.backend.close()

    async def _bootstrap(self) -> None:
        """The system namespaces and the ``kubernetes`` Service exist from the start."""
        ns_rt = by_plural("", "v1", "namespaces")
        assert ns_rt is not None
        for name in SYSTEM_NAMESPACES:
            if self.cache.get(ns_rt.key(None, name)) is None:
                obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                                       "spec": {"finalizers": ["kubernetes"]}}
                try:
                    await self.store.create(ns_rt, None, obj)
                except (errors.StatusError, KeyExistsError):
                    pass
        svc_rt = by_plural("", "v1", "services")
        assert svc_rt is not None
        if self.cache.get(svc_rt.key("default", "kubernetes")) is None:
            await self.cache.sync()
        if self.cache.get(svc_rt.key("default", "kubernetes")) is None:
            svc: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"type": "ClusterIP", "sessionAffinity": "None",
                         "clusterIP": self.admission.services.ips.first_ip(),
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                    "targetPort": self.advertise_port}],
                         "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                         "ipFamilyPolicy": "SingleStack"},
            }
            try:
                await self.store.create(svc_rt, "default", svc)
            except errors.StatusError as e:
                log.warning("could not create the kubernetes service: %s", e.message)

    # -- HTTP ----------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        code = 500
        try:
            resp = await handler(request)
            code = resp.status
            return resp
        except errors.StatusError as e:
            code = e.code
            return status_response(e)
        except web.HTTPException as e:
            code = e.status
            if e.status == 404:
                return status_response(not_found_path())
            if e.status == 405:
                return status_response(errors.StatusError(405, errors.METHOD_NOT_ALLOWED,
                                                          "the server does not allow this method on the "
                                                          "requested resource"))
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            code = 499
            raise
        except Exception as e:
            log.exception("internal error serving %s %s", request.method, request.path_qs)
            return status_response(errors.internal(f"{type(e).__name__}: {e}"))
        finally:
            info = requestinfo.parse(request.method, request.path, request.query.get("watch") == "true")
            verb = (info.verb if info else request.method.lower()).upper()
            res = info.resource if info else ""
            self.metrics.observe(verb, res, code, time.perf_counter() - start)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024,
                              handler_args={"max_field_size": 16384})

        async def version(request: web.Request) -> web.Response:
            return json_response(version_info())

        async def health(request: web.Request) -> web.Response:
            if not self.ready:
                return web.Response(status=500, text="[-]poststarthook/bootstrap failed: not finished\nhealthz check failed\n")
            if request.query.get("verbose") is not None:
                name = request.path.strip("/").split("/")[0]
                return web.Response(text=f"[+]ping ok\n[+]etcd ok\n[+]poststarthook/bootstrap ok\n{name} check passed\n")
            return web.Response(text="ok")

        app.router.add_get("/version", version)
        app.router.add_get("/version/", version)
        for path in ("/healthz", "/livez", "/readyz"):
            app.router.add_get(path, health)
            app.router.add_get(path + "/{check:.*}", health)
        app.router.add_get("/metrics", self.metrics.handle)
        discovery.add_routes(app, not_found_path)
        openapi_routes.add_routes(app)
        app.router.add_route("*", "/api/{tail:.+}", self.handlers.handle)
        app.router.add_route("*", "/apis/{tail:.+}", self.handlers.handle)
        return app
