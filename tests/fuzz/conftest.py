"""The fuzz suite's client: seeds, target objects, requests, and the one verdict on every answer.

:class:`Fuzzer` talks over loopback HTTP to a real ``kyb server`` of the
suite's own, started with ``--no-controllers`` (see :func:`fuzz_server`: a
stored object must change only when the suite writes it).  It keeps, per
served kind, a *seed* (a valid manifest from ``tests/api/manifests.py``) and a
*target*: a stored object the update, patch and subresource tests write to.  A
target that accepted a real write is retired (finalizers dropped, deleted) and
the next request gets a fresh one under a new name, so every example starts
from a pristine stored object.

:meth:`Fuzzer.check` is the standard under test: no answer is a 5xx, and every
error is a ``Status`` whose ``code`` matches the HTTP code, with a reason and
a message.  A failure shows the request and the end of the server log (where
the middleware wrote the traceback).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from kybernetes.api.registry import ResourceType
from tests.api import manifests as m
from tests.serverproc import ServerProc

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
METADATA = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json"

Obj = dict[str, Any]

SEEDS: dict[tuple[str, str], Callable[[], Obj]] = {
    ("", "namespaces"): m.namespace,
    ("", "pods"): m.pod,
    ("", "nodes"): m.node,
    ("", "services"): m.node_port_service,
    ("", "endpoints"): m.endpoints,
    ("", "configmaps"): m.config_map,
    ("", "secrets"): m.secret,
    ("", "serviceaccounts"): m.service_account,
    ("", "events"): m.core_event,
    ("", "replicationcontrollers"): m.replication_controller,
    ("apps", "deployments"): m.deployment,
    ("apps", "replicasets"): m.replica_set,
    ("coordination.k8s.io", "leases"): m.lease,
    ("events.k8s.io", "events"): m.events_v1_event,
    ("discovery.k8s.io", "endpointslices"): m.endpoint_slice,
}

_PROTOBUF_FIXTURES = Path(__file__).parent.parent / "api" / "fixtures" / "protobuf_kubectl.json"


def kind_id(rt: ResourceType) -> str:
    return f"{rt.group or 'core'}.{rt.kind}"


def protobuf_seeds() -> list[bytes]:
    """Real kubectl protobuf request bodies (for byte-flipping)."""
    cases = json.loads(_PROTOBUF_FIXTURES.read_text())["cases"]
    return [base64.b64decode(c["protobuf"]) for c in cases]


def too_large_rv(resp: requests.Response) -> bool:
    """Upstream's one deliberate 5xx for a request: 504 Timeout for a resourceVersion from the future.

    client-go's reflector relies on it (``IsTooLargeResourceVersion``): the
    ``ResourceVersionTooLarge`` cause and ``retryAfterSeconds`` tell it to retry.
    """
    try:
        st = resp.json()
    except ValueError:
        return False
    causes = (st.get("details") or {}).get("causes") or [] if isinstance(st, dict) else []
    return (resp.status_code == 504 and st.get("reason") == "Timeout"
            and any(c.get("reason") == "ResourceVersionTooLarge" for c in causes))


class Fuzzer:
    def __init__(self, server: ServerProc):
        self.server = server
        self.http = requests.Session()
        self.ns = "fz-" + uuid.uuid4().hex[:8]
        self._names = itertools.count()
        self._targets: dict[tuple[str, str, str], str] = {}

    # -- naming ----------------------------------------------------------------

    def fresh(self, stem: str = "fz") -> str:
        return f"{stem}-{next(self._names)}"

    def namespace_of(self, rt: ResourceType) -> str | None:
        return self.ns if rt.namespaced else None

    def collection(self, rt: ResourceType) -> str:
        base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
        ns = self.namespace_of(rt)
        return f"{base}/namespaces/{ns}/{rt.plural}" if ns else f"{base}/{rt.plural}"

    def path(self, rt: ResourceType, name: str, sub: str | None = None) -> str:
        return f"{self.collection(rt)}/{name}" + (f"/{sub}" if sub else "")

    # -- seeds and targets -------------------------------------------------------

    def seed(self, rt: ResourceType, name: str, stem: str = "") -> Obj:
        """A valid manifest of ``rt`` named ``name`` that the server will accept."""
        obj = copy.deepcopy(SEEDS[(rt.group, rt.plural)]())
        meta = obj["metadata"]
        for f in ("uid", "creationTimestamp", "namespace"):
            meta.pop(f, None)
        meta["name"] = name
        if rt.kind == "Service":  # let the server allocate: no two seeds may claim one address or port
            for f in ("clusterIP", "clusterIPs"):
                obj["spec"].pop(f, None)
            for p in obj["spec"]["ports"]:
                p.pop("nodePort", None)
        if stem == "bound":  # scheduled: its deletion is graceful
            obj["spec"]["nodeName"] = "worker-1"
        for ref in ("involvedObject", "regarding"):  # events name an object in their own namespace
            if ref in obj and rt.namespaced:
                obj[ref]["namespace"] = self.ns
        return obj

    def target(self, rt: ResourceType, stem: str = "target") -> Obj:
        """The stored object the write tests aim at (created on first use)."""
        key = (rt.group, rt.plural, stem)
        name = self._targets.get(key)
        if name is None:
            name = self._targets[key] = self.fresh(f"{self.ns}-{stem}" if rt.kind == "Namespace" else f"fz-{stem}")
        r = self.send("GET", self.path(rt, name))
        if r.status_code == 404:
            r = self.send("POST", self.collection(rt), self.seed(rt, name, stem))
            assert r.status_code == 201, f"seed of {kind_id(rt)} refused: {r.status_code} {r.text}"
        assert r.status_code == 200 or r.status_code == 201, f"{r.status_code} {r.text}"
        obj: Obj = r.json()
        return obj

    def retire(self, rt: ResourceType, stem: str = "target") -> None:
        """Forget the current target (it accepted a write); best-effort delete it."""
        name = self._targets.pop((rt.group, rt.plural, stem), None)
        if name is not None:
            self.remove(rt, name)

    def remove(self, rt: ResourceType, name: str) -> None:
        path = self.path(rt, name)
        self.send("PATCH", path, {"metadata": {"finalizers": None}}, ctype=MERGE)
        self.send("DELETE", path, {"gracePeriodSeconds": 0})

    def views(self, rt: ResourceType, name: str) -> None:
        """Whatever the server accepted it can also show: as a Table row and as metadata."""
        for accept in (TABLE, METADATA):
            self.check(self.send("GET", self.path(rt, name), accept=accept))

    def stored(self, rt: ResourceType, name: str) -> Obj | None:
        r = self.send("GET", self.path(rt, name))
        if r.status_code == 404:
            return None
        assert r.status_code == 200, f"{r.status_code} {r.text}"
        obj: Obj = r.json()
        return obj

    # -- requests and the verdict ----------------------------------------------------

    def send(self, method: str, path: str, body: Any = None, *, ctype: str = JSON,
             params: dict[str, str] | None = None, accept: str | None = None,
             stream: bool = False, timeout: float | tuple[float, float] = 30) -> requests.Response:
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif ctype == YAML:
            data = yaml.safe_dump(body).encode()
        else:
            data = json.dumps(body).encode()
        headers = {"Content-Type": ctype} if data is not None else {}
        if accept is not None:
            headers["Accept"] = accept
        try:
            resp = self.http.request(method, self.server.url + path, data=data, params=params, headers=headers,
                                     timeout=timeout, stream=stream)
        except requests.ConnectionError as e:  # the server dropped the connection: no Status at all
            raise AssertionError(self._explain(f"no answer ({e})", method, path, params, headers, data, "")) from None
        resp.request_body = data  # type: ignore[attr-defined]
        return resp

    def check(self, resp: requests.Response) -> None:
        """No 5xx; every error is a well-formed ``Status`` matching the HTTP code."""
        code = resp.status_code
        if code < 400:
            return
        assert code < 500 or too_large_rv(resp), self.explain(resp, f"answered {code}")
        assert resp.headers.get("Content-Type", "").startswith(JSON), self.explain(resp, "error is not JSON")
        try:
            st = resp.json()
        except ValueError:
            raise AssertionError(self.explain(resp, "error body is not JSON")) from None
        ok = (isinstance(st, dict) and st.get("kind") == "Status" and st.get("apiVersion") == "v1"
              and st.get("status") == "Failure" and st.get("code") == code
              and isinstance(st.get("reason"), str) and st["reason"]
              and isinstance(st.get("message"), str) and st["message"])
        assert ok, self.explain(resp, "error is not a well-formed Status")

    def check_stream(self, resp: requests.Response) -> None:
        """A watch that answered 200: every line an event, an ERROR event a Status, the stream intact.

        Reads until the stream ends or stays quiet for the request's read timeout.
        """
        self.check(resp)
        try:
            for line in resp.iter_lines(chunk_size=1):
                if not line:
                    continue
                ev = json.loads(line)
                assert ev.get("type") in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"), \
                    self.explain(resp, f"not a watch event: {line[:300]!r}")
                if ev["type"] == "ERROR":
                    st = ev.get("object") or {}
                    assert st.get("kind") == "Status" and st.get("reason") and st.get("message"), \
                        self.explain(resp, f"ERROR event without a Status: {line[:300]!r}")
                    assert st.get("code") in (410, 504), self.explain(resp, f"ERROR event: {line[:300]!r}")
        except requests.exceptions.ChunkedEncodingError as e:
            raise AssertionError(self.explain(resp, f"the watch stream broke off ({e})")) from None
        except requests.exceptions.ConnectionError as e:
            if "timed out" not in str(e).lower():
                raise AssertionError(self.explain(resp, f"the watch stream broke off ({e})")) from None

    def unchanged(self, rt: ResourceType, before: Obj, resp: requests.Response) -> None:
        """After a refused (or dry-run) write the stored object is exactly as it was."""
        after = self.stored(rt, before["metadata"]["name"])
        assert after is not None, self.explain(resp, "a refused write deleted the object")
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], \
            self.explain(resp, "a refused write changed the stored object (resourceVersion moved)")
        assert after == before, self.explain(resp, "a refused write changed the stored object")

    def explain(self, resp: requests.Response, what: str) -> str:
        req = resp.request
        body: bytes = getattr(resp, "request_body", None) or b""
        return self._explain(what, str(req.method), str(req.url), None, dict(req.headers), body,
                             f"{resp.status_code} {resp.text[:1500]}")

    def _explain(self, what: str, method: str, url: str, params: dict[str, str] | None,
                 headers: dict[str, str], body: bytes | None, answer: str) -> str:
        shown = (body or b"")[:1500].decode(errors="replace") + ("..." if len(body or b"") > 1500 else "")
        log = self.server.log()[-3000:]
        return (f"{what}\n>>> {method} {url} {params or ''}\n>>> Content-Type: {headers.get('Content-Type')}"
                f"\n>>> {shown}\n<<< {answer}\n--- server log (tail) ---\n{log}")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """A real ``kyb server`` of the suite's own, with ``--no-controllers``.

    The API server alone is under test: no scheduler binding the target pods, no
    node lifecycle controller touching the target nodes, no garbage collector
    acting on fuzzed owner references, so a stored object changes only when this
    suite writes it.  Its own data dir also keeps the odd objects it accepts out
    of other suites' lists.
    """
    base = tmp_path_factory.mktemp("kyb-fuzz")
    with contextlib.ExitStack() as stack:
        if Path("/dev/shm").is_dir():  # durability is not under test: skip the fsyncs' wait
            shm = stack.enter_context(tempfile.TemporaryDirectory(prefix="kyb-fuzz-", dir="/dev/shm"))
            (base / "data").symlink_to(shm)
        proc = ServerProc(base / "data", base / "kubeconfig", extra_args=["--no-controllers"]).start()
        yield proc
        rc = proc.stop()
        assert rc == 0, f"server exited with {rc} on SIGTERM:\n{proc.log()}"


@pytest.fixture(scope="module")
def fz(fuzz_server: ServerProc) -> Iterator[Fuzzer]:
    f = Fuzzer(fuzz_server)
    r = f.send("POST", "/api/v1/namespaces", {"metadata": {"name": f.ns}})
    assert r.status_code == 201, r.text
    yield f
    f.http.close()


@pytest.fixture(scope="module")
def pb_seeds() -> list[bytes]:
    return protobuf_seeds()
