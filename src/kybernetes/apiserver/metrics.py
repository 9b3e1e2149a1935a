"""Prometheus metrics with upstream's names, served at ``/metrics``.

One registry per server (tests start several servers in one process).
Request metrics are recorded by the middleware in :mod:`app`; gauges that
describe state (objects stored, watchers, RSS) are read when scraped.
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def rss_bytes() -> int:
    """Resident set size now (from /proc), falling back to the peak."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _StateCollector(Collector):
    def __init__(self, objects: Callable[[], dict[str, int]], watchers: Callable[[], int]):
        self.objects = objects
        self.watchers = watchers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("apiserver_storage_objects", "Number of stored objects at the time of last check "
                              "split by kind.", labels=["resource"])
        for res, n in sorted(self.objects().items()):
            g.add_metric([res], n)
        yield g
        yield GaugeMetricFamily("apiserver_registered_watchers", "Number of currently registered watchers.",
                                value=self.watchers())
        yield GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                                value=rss_bytes())


class Metrics:
    def __init__(self, objects: Callable[[], dict[str, int]], watchers: Callable[[], int]):
        self.registry = CollectorRegistry()
        self.requests = Counter("apiserver_request", "Counter of apiserver requests broken out for each verb, "
                                "group, version, resource and HTTP response code.",
                                ["verb", "resource", "code"], registry=self.registry)
        self.latency = Histogram("apiserver_request_duration_seconds", "Response latency distribution in "
                                 "seconds for each verb and resource.", ["verb", "resource"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_StateCollector(objects, watchers))

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        self.requests.labels(verb, resource, str(code)).inc()
        if verb != "WATCH":
            self.latency.labels(verb, resource).observe(seconds)

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
