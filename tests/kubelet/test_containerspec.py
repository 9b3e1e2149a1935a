"""The runtime config of a container: argv over the image's entrypoint with ``$(VAR)`` expansion, the user from
the security contexts and ``runAsNonRoot``, CPU shares and quota, memory limit, labels, annotations, log path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kybernetes.kubelet.containerspec import (
    ContainerConfigError,
    container_annotations,
    container_command,
    container_config,
    container_hash,
    container_labels,
    container_resources,
    container_user,
    log_path,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
    verify_run_as_non_root,
)
from kybernetes.runtime.api import Mount, Resources

Obj = dict[str, Any]
IMAGE: Obj = {"config": {"Entrypoint": ["/entry.sh"], "Cmd": ["serve", "$(HOME)"], "Env": ["PATH=/usr/bin", "A=img"],
                         "WorkingDir": "/srv", "User": "", "StopSignal": "SIGQUIT"}}
ENV = {"A": "mine", "PORT": "8080", "EMPTY": ""}


def pod(pod_sc: Obj | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"securityContext": pod_sc or {}, **spec}}


@pytest.mark.parametrize("container,image,expected", [
    pytest.param({}, IMAGE, ["/entry.sh", "serve", "$(HOME)"], id="image-entrypoint-and-cmd-not-expanded"),
    pytest.param({"command": ["/bin/app"]}, IMAGE, ["/bin/app"], id="command-drops-cmd"),
    pytest.param({"args": ["run"]}, IMAGE, ["/entry.sh", "run"], id="args-replace-cmd"),
    pytest.param({"command": ["/bin/app"], "args": ["-v"]}, IMAGE, ["/bin/app", "-v"], id="command-and-args"),
    pytest.param({"command": ["/bin/app", "--port=$(PORT)"]}, IMAGE, ["/bin/app", "--port=8080"],
                 id="command-expanded"),
    pytest.param({"args": ["$(A)-$(PORT)", "$(NOPE)", "$$(PORT)", "[$(EMPTY)]"]}, IMAGE,
                 ["/entry.sh", "mine-8080", "$(NOPE)", "$(PORT)", "[]"], id="args-expanded"),
    pytest.param({"args": ["x"]}, {"config": {}}, ["x"], id="args-without-entrypoint"),
    pytest.param({}, {"config": {"Cmd": ["sh"]}}, ["sh"], id="cmd-only-image"),
])
def test_container_command(container: Obj, image: Obj, expected: list[str]) -> None:
    assert container_command(container, image, ENV) == expected


def test_no_command_at_all() -> None:
    with pytest.raises(ContainerConfigError, match=r"^no command specified$"):
        container_command({}, {"config": {}}, {})


@pytest.mark.parametrize("pod_sc,container_sc,image_user,expected", [
    pytest.param({}, {}, "nginx", "nginx", id="image-user"),
    pytest.param({}, {}, "", "", id="nothing"),
    pytest.param({"runAsUser": 1000}, {}, "nginx", "1000", id="pod-user"),
    pytest.param({"runAsUser": 1000}, {"runAsUser": 2000}, "", "2000", id="container-overrides-pod"),
    pytest.param({"runAsUser": 1000, "runAsGroup": 3000}, {}, "", "1000:3000", id="user-and-group"),
    pytest.param({"runAsGroup": 3000}, {"runAsUser": 2000}, "", "2000:3000", id="pod-group-container-user"),
    pytest.param({}, {"runAsGroup": 3000}, "nginx", "nginx:3000", id="group-with-named-image-user"),
    pytest.param({}, {"runAsGroup": 3000}, "1000:50", "1000:3000", id="group-replaces-image-group"),
    pytest.param({}, {"runAsGroup": 3000}, "", "0:3000", id="group-with-root"),
    pytest.param({}, {"runAsUser": 0}, "nginx", "0", id="explicit-root"),
    pytest.param({"runAsUser": 1000}, {"runAsUser": None}, "", "1000", id="null-does-not-override"),
])
def test_container_user(pod_sc: Obj, container_sc: Obj, image_user: str, expected: str) -> None:
    assert container_user(pod(pod_sc), {"securityContext": container_sc}, image_user) == expected


WHERE = '(pod: "web_default(u1)", container: app)'


@pytest.mark.parametrize("pod_sc,container_sc,image_user,message", [
    pytest.param({}, {}, "", "", id="not-asked"),
    pytest.param({"runAsNonRoot": True}, {}, "1000", "", id="numeric-image-user"),
    pytest.param({"runAsNonRoot": True}, {}, "1000:0", "", id="numeric-user-root-group"),
    pytest.param({"runAsNonRoot": True, "runAsUser": 1000}, {}, "", "", id="explicit-user"),
    pytest.param({"runAsNonRoot": True}, {"runAsNonRoot": False}, "", "", id="container-allows-root"),
    pytest.param({"runAsNonRoot": True}, {}, "", f"container has runAsNonRoot and image will run as root {WHERE}",
                 id="image-default-root"),
    pytest.param({}, {"runAsNonRoot": True}, "0", f"container has runAsNonRoot and image will run as root {WHERE}",
                 id="image-uid-zero"),
    pytest.param({"runAsNonRoot": True}, {}, "nginx",
                 "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root "
                 + WHERE, id="named-user"),
    pytest.param({"runAsNonRoot": True}, {"runAsUser": 0}, "1000",
                 f"container's runAsUser breaks non-root policy {WHERE}", id="explicit-root"),
])
def test_verify_run_as_non_root(pod_sc: Obj, container_sc: Obj, image_user: str, message: str) -> None:
    container = {"name": "app", "securityContext": container_sc}
    if not message:
        verify_run_as_non_root(pod(pod_sc), container, image_user)
        return
    with pytest.raises(ContainerConfigError) as e:
        verify_run_as_non_root(pod(pod_sc), container, image_user)
    assert str(e.value) == message


@pytest.mark.parametrize("resources,expected", [
    pytest.param({}, Resources(100000, 0, 2, 0), id="best-effort"),
    pytest.param({"limits": {"cpu": "500m"}}, Resources(100000, 50000, 512, 0), id="limit-only-shares-from-limit"),
    pytest.param({"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}, Resources(100000, 100000, 256, 0),
                 id="request-and-limit"),
    pytest.param({"requests": {"cpu": "1.5"}, "limits": {"cpu": "1.5"}}, Resources(100000, 150000, 1536, 0),
                 id="fractional-cores"),
    pytest.param({"limits": {"cpu": "1m"}}, Resources(100000, 1000, 2, 0), id="minimum-quota-and-shares"),
    pytest.param({"requests": {"cpu": "300"}}, Resources(100000, 0, 262144, 0), id="shares-capped"),
    pytest.param({"limits": {"memory": "128Mi"}}, Resources(100000, 0, 2, 134217728), id="memory-limit"),
    pytest.param({"limits": {"memory": "1G"}, "requests": {"memory": "1M"}}, Resources(100000, 0, 2, 10**9),
                 id="memory-request-ignored"),
    pytest.param({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
                 Resources(100000, 20000, 102, 134217728), id="burstable"),
])
def test_container_resources(resources: Obj, expected: Resources) -> None:
    assert container_resources({"resources": resources}) == expected


@pytest.mark.parametrize("milli,shares,quota", [
    (0, 2, 0), (1, 2, 1000), (2, 2, 1000), (3, 3, 1000), (10, 10, 1000), (100, 102, 10000), (1000, 1024, 100000),
    (256000, 262144, 25600000), (500000, 262144, 50000000),
])
def test_cpu_conversions(milli: int, shares: int, quota: int) -> None:
    assert (milli_cpu_to_shares(milli), milli_cpu_to_quota(milli)) == (shares, quota)


def test_bad_quantity_is_a_config_error() -> None:
    with pytest.raises(ContainerConfigError, match="quantities must match"):
        container_resources({"resources": {"limits": {"cpu": "lots"}}})


def test_identity_and_log_path() -> None:
    assert log_path("/var/log/pods", pod(), "app", 3) == "/var/log/pods/default_web_u1/app/3.log"
    assert container_labels(pod(), "app") == {"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "default",
                                              "io.kubernetes.pod.uid": "u1", "io.kubernetes.container.name": "app"}
    c = {"name": "app", "image": "nginx", "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File"}
    assert container_annotations(pod(terminationGracePeriodSeconds=30), c, 2) == {
        "io.kubernetes.container.hash": container_hash(c), "io.kubernetes.container.restartCount": "2",
        "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
        "io.kubernetes.container.terminationMessagePolicy": "File", "io.kubernetes.pod.terminationGracePeriod": "30"}
    assert container_annotations(pod(), {"name": "app"}, 0) == {
        "io.kubernetes.container.hash": container_hash({"name": "app"}), "io.kubernetes.container.restartCount": "0"}


@pytest.mark.parametrize("a,b,same", [
    pytest.param({"name": "app", "image": "nginx"}, {"image": "nginx", "name": "app"}, True, id="key-order"),
    pytest.param({"name": "app", "image": "nginx"}, {"name": "app", "image": "nginx:2"}, False, id="image"),
    pytest.param({"name": "app", "args": ["a"]}, {"name": "app", "args": ["b"]}, False, id="args"),
])
def test_container_hash(a: Obj, b: Obj, same: bool) -> None:
    assert len(container_hash(a)) == 8
    assert (container_hash(a) == container_hash(b)) is same


@pytest.mark.parametrize("container,image,field,expected", [
    pytest.param({}, IMAGE, "env", ["PATH=/usr/bin", "A=mine", "PORT=8080", "EMPTY="], id="env-over-image-env"),
    pytest.param({}, IMAGE, "working_dir", "/srv", id="image-working-dir"),
    pytest.param({"workingDir": "/app"}, IMAGE, "working_dir", "/app", id="container-working-dir"),
    pytest.param({}, {"config": {"Cmd": ["x"]}}, "working_dir", "/", id="default-working-dir"),
    pytest.param({}, IMAGE, "stop_signal", "SIGQUIT", id="image-stop-signal"),
    pytest.param({"lifecycle": {"stopSignal": "SIGUSR1"}}, IMAGE, "stop_signal", "SIGUSR1", id="lifecycle-signal"),
    pytest.param({}, {"config": {"Cmd": ["x"]}}, "stop_signal", "SIGTERM", id="default-stop-signal"),
    pytest.param({"tty": True, "stdin": True}, IMAGE, "tty", True, id="tty"),
    pytest.param({"tty": True, "stdin": True}, IMAGE, "stdin", True, id="stdin"),
    pytest.param({"stdin": True, "stdinOnce": True}, IMAGE, "stdin_once", True, id="stdin-once"),
    pytest.param({"stdinOnce": True}, IMAGE, "stdin_once", False, id="stdin-once-needs-stdin"),
    pytest.param({"stdin": True}, IMAGE, "stdin_once", False, id="stdin-stays-open"),
    pytest.param({"securityContext": {"readOnlyRootFilesystem": True}}, IMAGE, "readonly_rootfs", True,
                 id="read-only-rootfs"),
    pytest.param({"securityContext": {"privileged": True}}, IMAGE, "privileged", True, id="privileged"),
    pytest.param({}, IMAGE, "privileged", False, id="unprivileged"),
    pytest.param({"image": "nginx:1.27"}, IMAGE, "image", "nginx:1.27", id="image-from-spec"),
])
def test_container_config_fields(container: Obj, image: Obj, field: str, expected: Any) -> None:
    cfg = container_config(pod(), {"name": "app", **container}, image, env=ENV)
    assert getattr(cfg, field) == expected


def test_container_config_whole() -> None:
    mounts = [Mount("/data", "/pods/u1/volumes/kubernetes.io~empty-dir/data")]
    container = {"name": "app", "image": "nginx", "args": ["--port=$(PORT)"],
                 "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    cfg = container_config(pod({"runAsUser": 101, "runAsNonRoot": True}), container, IMAGE, env=ENV, mounts=mounts,
                           image="docker.io/library/nginx:latest", image_id="sha256:abc",
                           rootfs_layers=[Path("/l1"), Path("/l2")], restart_count=4, log_root="/logs")
    assert (cfg.name, cfg.command, cfg.image, cfg.image_id, cfg.rootfs_layers, cfg.attempt, cfg.user, cfg.mounts,
            cfg.resources, cfg.log_path) == (
        "app", ["/entry.sh", "--port=8080"], "docker.io/library/nginx:latest", "sha256:abc",
        [Path("/l1"), Path("/l2")], 4, "101", mounts, Resources(100000, 100000, 1024, 2**30),
        "/logs/default_web_u1/app/4.log")
    assert cfg.labels["io.kubernetes.container.name"] == "app"
    assert cfg.annotations["io.kubernetes.container.restartCount"] == "4"


def test_container_config_refuses_root_when_asked() -> None:
    with pytest.raises(ContainerConfigError, match="image will run as root"):
        container_config(pod({"runAsNonRoot": True}), {"name": "app"}, IMAGE, env={})
