"""``kubectl describe`` of deployments, pods, services and namespaces.

No node agent or controllers run yet: pods stay Pending and deployments get no ReplicaSets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.compat import manifests as m
from tests.compat.conftest import Http
from tests.conftest import Kubectl

pytestmark = pytest.mark.kubectl


def field(out: str, name: str) -> str:
    """The value of the top-level ``Name:   value`` line of a describe output."""
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", out, re.M)
    assert match, f"no {name!r} line in:\n{out}"
    return match.group(1).strip()


def test_describe_deployment(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    deploy = m.deployment("web", replicas=2, env=[{"name": "MODE", "value": "blue"}])
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "web.yaml", deploy))
    out = kubectl.ok("describe", "-n", ns, "deployment", "web")
    assert field(out, "Name") == "web"
    assert field(out, "Namespace") == ns
    assert field(out, "Labels") == "app=web"
    assert field(out, "Selector") == "app=web"
    assert field(out, "Replicas") == "2 desired | 0 updated | 0 total | 0 available | 0 unavailable"
    assert field(out, "StrategyType") == "RollingUpdate"
    assert field(out, "MinReadySeconds") == "0"
    assert field(out, "RollingUpdateStrategy") == "25% max unavailable, 25% max surge"
    assert re.search(r"^CreationTimestamp:\s+\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$", out, re.M), out
    assert "Pod Template:" in out
    assert re.search(r"^  Containers:\n   app:\n", out, re.M), out
    assert re.search(r"^    Image:\s+nginx:1\.25$", out, re.M), out
    assert re.search(r"^    Port:\s+80/TCP( \(http\))?$", out, re.M), out
    assert re.search(r"^      MODE:\s+blue$", out, re.M), out
    assert re.search(r"^Events:\s+<none>$", out, re.M), out

    r = kubectl("describe", "-n", ns, "deployment", "nope")
    assert r.rc == 1, r
    assert r.err.strip() == 'Error from server (NotFound): deployments.apps "nope" not found', r


def test_describe_pod_with_an_event(kubectl: Kubectl, ns: str, http: Http, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "pod.yaml", m.pod("solo", image="nginx:1.25")))
    uid = http.get(f"/api/v1/namespaces/{ns}/pods/solo")["metadata"]["uid"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "solo.test"},
             "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "solo", "namespace": ns, "uid": uid},
             "reason": "Testing", "message": "hello from the compat suite", "type": "Warning",
             "source": {"component": "compat-suite"}, "firstTimestamp": now, "lastTimestamp": now, "count": 1}
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "event.yaml", event))

    out = kubectl.ok("describe", "-n", ns, "pod", "solo")
    assert field(out, "Name") == "solo"
    assert field(out, "Namespace") == ns
    assert field(out, "Node") == "<none>"
    assert field(out, "Labels") == "app=solo"
    assert field(out, "Status") == "Pending"
    assert field(out, "QoS Class") == "BestEffort"
    assert re.search(r"^Containers:\n  app:\n", out, re.M), out
    assert re.search(r"^    Image:\s+nginx:1\.25$", out, re.M), out
    events = out[out.index("\nEvents:"):]
    assert re.search(r"^  Type\s+Reason\s+Age\s+From\s+Message$", events, re.M), out
    assert re.search(r"^  Warning\s+Testing\s+\S+\s+compat-suite\s+hello from the compat suite$", events, re.M), out

    listed = kubectl.ok("get", "-n", ns, "events")
    assert re.search(r"Warning\s+Testing\s+pod/solo\s+hello from the compat suite", listed), listed
    listed = kubectl.ok("get", "-n", ns, "events.events.k8s.io", "--field-selector", "reason=Testing")
    assert re.search(r"Warning\s+Testing\s+pod/solo\s+hello from the compat suite", listed), listed
    new_api = kubectl.ok("get", "-n", ns, "events.v1.events.k8s.io", "solo.test", "-o", "json")
    assert '"note": "hello from the compat suite"' in new_api and '"regarding"' in new_api, new_api

    for_pod = kubectl.ok("events", "-n", ns, "--for", "pod/solo")
    assert re.search(r"^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$", for_pod, re.M), for_pod
    assert re.search(r"Warning\s+Testing\s+Pod/solo\s+hello from the compat suite", for_pod), for_pod


def test_describe_service(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.ok("create", "-n", ns, "-f", m.write(tmp_path / "svc.yaml", m.service("web", port=80, target=8080)))
    out = kubectl.ok("describe", "-n", ns, "service", "web")
    assert field(out, "Name") == "web"
    assert field(out, "Namespace") == ns
    assert field(out, "Labels") == "app=web"
    assert field(out, "Selector") == "app=web"
    assert field(out, "Type") == "ClusterIP"
    assert field(out, "IP Family Policy") == "SingleStack"
    assert field(out, "IP Families") == "IPv4"
    ip = field(out, "IP")
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip), out
    assert field(out, "IPs") == ip
    assert re.fullmatch(r"http\s+80/TCP", field(out, "Port")), out
    assert field(out, "TargetPort") == "8080/TCP"
    assert field(out, "Session Affinity") == "None"
    assert re.search(r"^Events:\s+<none>$", out, re.M), out


def test_describe_namespace(kubectl: Kubectl, ns: str) -> None:
    out = kubectl.ok("describe", "namespace", ns)
    assert field(out, "Name") == ns
    assert field(out, "Labels") == f"kubernetes.io/metadata.name={ns}"
    assert field(out, "Annotations") == "<none>"
    assert field(out, "Status") == "Active"
