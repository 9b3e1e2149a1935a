"""Volume plans (emptyDir, hostPath, configMap, secret, downwardAPI, projected), container mounts with subPath,
the hostPath type rules, and the atomic payload writer on a real directory."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from kybernetes.kubelet.volumes import (
    FileSpec,
    Sources,
    VolumeError,
    VolumePlan,
    check_host_path,
    container_mounts,
    host_path_action,
    host_path_kind,
    mount_failed_message,
    plan_volume,
    plan_volumes,
    token_requests,
    volume_host_dir,
    write_payload,
)
from kybernetes.runtime.api import Mount

Obj = dict[str, Any]


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


CONFIGMAPS: dict[str, Obj] = {"cfg": {"data": {"app.conf": "x=1", "b": "2"}, "binaryData": {"blob": b64("\x00\x01")}}}
SECRETS: dict[str, Obj] = {"sec": {"data": {"tls.crt": b64("CERT"), "tls.key": b64("KEY")}}}
SOURCES = Sources(configmap=CONFIGMAPS.get, secret=SECRETS.get, node_allocatable={"cpu": "4", "memory": "8Gi"},
                  tokens={"": "tok-api", "vault": "tok-vault"})
POD: Obj = {"metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "128Mi"}}}]}}


def f(content: str | bytes, mode: int = 0o644) -> FileSpec:
    return FileSpec(content.encode() if isinstance(content, str) else content, mode)


@pytest.mark.parametrize("volume,expected", [
    pytest.param({"emptyDir": {}}, VolumePlan("v", "emptyDir"), id="empty-dir"),
    pytest.param({"emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                 VolumePlan("v", "emptyDir", medium="Memory", size_limit=64 * 2**20), id="memory-empty-dir"),
    pytest.param({"emptyDir": {"sizeLimit": "1G"}}, VolumePlan("v", "emptyDir", size_limit=10**9), id="size-limit"),
    pytest.param({"hostPath": {"path": "/var/log", "type": "Directory"}},
                 VolumePlan("v", "hostPath", host_path="/var/log", host_path_type="Directory"), id="host-path"),
    pytest.param({"hostPath": {"path": "/x"}}, VolumePlan("v", "hostPath", host_path="/x"), id="host-path-untyped"),
    pytest.param({"configMap": {"name": "cfg"}},
                 VolumePlan("v", "configMap", files={"app.conf": f("x=1"), "b": f("2"), "blob": f(b"\x00\x01")}),
                 id="configmap-all-keys"),
    pytest.param({"configMap": {"name": "cfg", "defaultMode": 0o400}},
                 VolumePlan("v", "configMap", files={"app.conf": f("x=1", 0o400), "b": f("2", 0o400),
                                                     "blob": f(b"\x00\x01", 0o400)}), id="configmap-default-mode"),
    pytest.param({"configMap": {"name": "cfg", "items": [{"key": "app.conf", "path": "conf/app.conf", "mode": 0o600},
                                                         {"key": "b", "path": "bee"}]}},
                 VolumePlan("v", "configMap", files={"conf/app.conf": f("x=1", 0o600), "bee": f("2")}),
                 id="configmap-items"),
    pytest.param({"configMap": {"name": "cfg", "optional": True, "items": [{"key": "nope", "path": "n"}]}},
                 VolumePlan("v", "configMap"), id="configmap-optional-missing-key"),
    pytest.param({"configMap": {"name": "gone", "optional": True}}, VolumePlan("v", "configMap"),
                 id="configmap-optional-missing"),
    pytest.param({"secret": {"secretName": "sec"}},
                 VolumePlan("v", "secret", files={"tls.crt": f("CERT"), "tls.key": f("KEY")}), id="secret-decoded"),
    pytest.param({"secret": {"secretName": "sec", "items": [{"key": "tls.key", "path": "key.pem", "mode": 0o400}]}},
                 VolumePlan("v", "secret", files={"key.pem": f("KEY", 0o400)}), id="secret-items"),
    pytest.param({"secret": {"secretName": "gone", "optional": True}}, VolumePlan("v", "secret"),
                 id="secret-optional-missing"),
    pytest.param({"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o600},
                                            {"path": "mem", "resourceFieldRef": {
                                                "containerName": "app", "resource": "limits.memory",
                                                "divisor": "1Mi"}}]}},
                 VolumePlan("v", "downwardAPI", files={"labels": f('app="web"'), "name": f("web", 0o600),
                                                       "mem": f("128")}), id="downward-api"),
    pytest.param({"downwardAPI": {"defaultMode": 0o444, "items": [
        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}}]}},
                 VolumePlan("v", "downwardAPI", files={"cpu": f("4", 0o444)}), id="downward-api-node-default"),
    pytest.param({"projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "cfg", "items": [{"key": "b", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        {"secret": {"name": "sec", "items": [{"key": "tls.crt", "path": "tls.crt"}]}}]}},
                 VolumePlan("v", "projected", files={"token": f("tok-api"), "ca.crt": f("2"), "namespace": f("default"),
                                                     "tls.crt": f("CERT")}), id="projected-service-account"),
    pytest.param({"projected": {"defaultMode": 0o440, "sources": [
        {"serviceAccountToken": {"path": "vault-token", "audience": "vault"}}]}},
                 VolumePlan("v", "projected", files={"vault-token": f("tok-vault", 0o440)}), id="projected-audience"),
])
def test_plan_volume(volume: Obj, expected: VolumePlan) -> None:
    assert plan_volume(POD, {"name": "v", **volume}, SOURCES) == expected


@pytest.mark.parametrize("volume,message", [
    pytest.param({"emptyDir": {"sizeLimit": "lots"}},
                 "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                 id="bad-size-limit"),
    pytest.param({"hostPath": {"path": "/x", "type": "Pipe"}}, "Pipe is an invalid volume type", id="bad-host-type"),
    pytest.param({"configMap": {"name": "cfg", "items": [{"key": "nope", "path": "n"}]}},
                 "configmap references non-existent config key: nope", id="configmap-missing-key"),
    pytest.param({"configMap": {"name": "gone"}}, 'configmap "gone" not found', id="configmap-missing"),
    pytest.param({"secret": {"secretName": "sec", "items": [{"key": "nope", "path": "n"}]}},
                 "references non-existent secret key: nope", id="secret-missing-key"),
    pytest.param({"secret": {"secretName": "gone"}}, 'secret "gone" not found', id="secret-missing"),
    pytest.param({"projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "other"}}]}},
                 'no service account token for audience "other"', id="token-not-given"),
    pytest.param({"projected": {"sources": [{"configMap": {"name": "gone"}}, {"secret": {"name": "gone"}}]}},
                 '[configmap "gone" not found, secret "gone" not found]', id="projected-errors-aggregated"),
    pytest.param({"downwardAPI": {"items": [{"path": "p", "fieldRef": {"fieldPath": "status.phase"}}]}},
                 "unsupported fieldPath: status.phase", id="downward-api-field"),
    pytest.param({"persistentVolumeClaim": {"claimName": "data"}},
                 "volume type persistentVolumeClaim is not supported", id="unsupported-type"),
])
def test_plan_volume_errors(volume: Obj, message: str) -> None:
    with pytest.raises(VolumeError) as e:
        plan_volume(POD, {"name": "v", **volume}, SOURCES)
    assert str(e.value) == message
    assert mount_failed_message("v", str(e.value)) == f'MountVolume.SetUp failed for volume "v" : {message}'


def test_plan_volumes_and_token_requests() -> None:
    pod = {**POD, "spec": {**POD["spec"], "volumes": [
        {"name": "a", "emptyDir": {}},
        {"name": "t1", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        {"name": "t2", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault",
                                                                          "expirationSeconds": 600}},
                                                 {"serviceAccountToken": {"path": "u", "expirationSeconds": 3600}}]}}]}}
    assert list(plan_volumes(pod, SOURCES)) == ["a", "t1", "t2"]
    assert token_requests(pod) == [("", 3600), ("vault", 600)]
    with pytest.raises(VolumeError) as e:
        plan_volumes(pod, Sources(configmap=CONFIGMAPS.get, secret=SECRETS.get))
    assert (e.value.volume, str(e.value)) == ("t1", 'no service account token for audience ""')


@pytest.mark.parametrize("plan,expected", [
    pytest.param(VolumePlan("data", "emptyDir"), "/pods/u1/volumes/kubernetes.io~empty-dir/data", id="empty-dir"),
    pytest.param(VolumePlan("cfg", "configMap"), "/pods/u1/volumes/kubernetes.io~configmap/cfg", id="configmap"),
    pytest.param(VolumePlan("s", "secret"), "/pods/u1/volumes/kubernetes.io~secret/s", id="secret"),
    pytest.param(VolumePlan("d", "downwardAPI"), "/pods/u1/volumes/kubernetes.io~downward-api/d", id="downward"),
    pytest.param(VolumePlan("p", "projected"), "/pods/u1/volumes/kubernetes.io~projected/p", id="projected"),
    pytest.param(VolumePlan("h", "hostPath", host_path="/var/log"), "/var/log", id="host-path"),
])
def test_volume_host_dir(plan: VolumePlan, expected: str) -> None:
    assert volume_host_dir("/pods/u1", plan) == expected


PLANS = {"data": VolumePlan("data", "emptyDir"), "cfg": VolumePlan("cfg", "configMap"),
         "logs": VolumePlan("logs", "hostPath", host_path="/var/log")}
DATA = "/pods/u1/volumes/kubernetes.io~empty-dir/data"


@pytest.mark.parametrize("mount,expected", [
    pytest.param({"name": "data", "mountPath": "/data"}, Mount("/data", DATA, False, "bind"), id="bind"),
    pytest.param({"name": "data", "mountPath": "/data", "readOnly": True}, Mount("/data", DATA, True, "bind"),
                 id="read-only"),
    pytest.param({"name": "cfg", "mountPath": "/etc/app"},
                 Mount("/etc/app", "/pods/u1/volumes/kubernetes.io~configmap/cfg", True, "bind"),
                 id="configmap-always-read-only"),
    pytest.param({"name": "logs", "mountPath": "/host-logs"}, Mount("/host-logs", "/var/log", False, "bind"),
                 id="host-path"),
    pytest.param({"name": "data", "mountPath": "/db", "subPath": "pg/data"}, Mount("/db", DATA + "/pg/data"),
                 id="sub-path"),
    pytest.param({"name": "data", "mountPath": "/db", "subPathExpr": "$(POD)/x"}, Mount("/db", DATA + "/web/x"),
                 id="sub-path-expr"),
    pytest.param({"name": "logs", "mountPath": "/l", "subPath": "app"}, Mount("/l", "/var/log/app"),
                 id="host-path-sub-path"),
])
def test_container_mounts(mount: Obj, expected: Mount) -> None:
    container = {"name": "app", "volumeMounts": [mount]}
    assert container_mounts(container, PLANS, "/pods/u1", {"POD": "web"}) == [expected]


@pytest.mark.parametrize("mount,message", [
    pytest.param({"name": "ghost", "mountPath": "/g"}, 'cannot find volume "ghost" to mount into container "app"',
                 id="unknown-volume"),
    pytest.param({"name": "data", "mountPath": "/d", "subPath": "/etc"},
                 "error SubPath `/etc` must not be an absolute path", id="absolute-sub-path"),
    pytest.param({"name": "data", "mountPath": "/d", "subPath": "a/../../etc"},
                 "unable to provision SubPath `a/../../etc`: must not contain '..'", id="backsteps"),
    pytest.param({"name": "data", "mountPath": "/d", "subPathExpr": "$(NOPE)/$(EMPTY)"},
                 "missing value for EMPTY, NOPE", id="sub-path-expr-missing"),
])
def test_container_mount_errors(mount: Obj, message: str) -> None:
    with pytest.raises(VolumeError) as e:
        container_mounts({"name": "app", "volumeMounts": [mount]}, PLANS, "/pods/u1", {"EMPTY": ""})
    assert str(e.value) == message


@pytest.mark.parametrize("path_type,kind,expected", [
    pytest.param("", None, "", id="untyped-missing"),
    pytest.param("", "file", "", id="untyped-anything"),
    pytest.param("DirectoryOrCreate", None, "mkdir", id="dir-or-create-missing"),
    pytest.param("DirectoryOrCreate", "dir", "", id="dir-or-create-present"),
    pytest.param("Directory", "dir", "", id="dir"),
    pytest.param("FileOrCreate", None, "touch", id="file-or-create-missing"),
    pytest.param("FileOrCreate", "file", "", id="file-or-create-present"),
    pytest.param("File", "file", "", id="file"),
    pytest.param("Socket", "socket", "", id="socket"),
    pytest.param("CharDevice", "char", "", id="char-device"),
    pytest.param("BlockDevice", "block", "", id="block-device"),
])
def test_host_path_action(path_type: str, kind: str | None, expected: str) -> None:
    assert host_path_action("/p", path_type, kind) == expected


@pytest.mark.parametrize("path_type,kind,message", [
    pytest.param("DirectoryOrCreate", "file", "hostPath type check failed: /p is not a directory",
                 id="dir-or-create-on-file"),
    pytest.param("Directory", None, "hostPath type check failed: /p is not a directory", id="dir-missing"),
    pytest.param("FileOrCreate", "dir", "hostPath type check failed: /p is not a file", id="file-or-create-on-dir"),
    pytest.param("File", None, "hostPath type check failed: /p is not a file", id="file-missing"),
    pytest.param("Socket", "file", "hostPath type check failed: /p is not a socket file", id="not-socket"),
    pytest.param("CharDevice", "block", "hostPath type check failed: /p is not a character device", id="not-char"),
    pytest.param("BlockDevice", "char", "hostPath type check failed: /p is not a block device", id="not-block"),
    pytest.param("Fifo", "file", "Fifo is an invalid volume type", id="invalid-type"),
])
def test_host_path_action_errors(path_type: str, kind: str | None, message: str) -> None:
    with pytest.raises(VolumeError) as e:
        host_path_action("/p", path_type, kind)
    assert str(e.value) == message


def test_check_host_path_on_disk(tmp_path: Path) -> None:
    made_dir, made_file = tmp_path / "a" / "b", tmp_path / "f.txt"
    check_host_path(VolumePlan("d", "hostPath", host_path=str(made_dir), host_path_type="DirectoryOrCreate"))
    check_host_path(VolumePlan("f", "hostPath", host_path=str(made_file), host_path_type="FileOrCreate"))
    assert (host_path_kind(str(made_dir)), host_path_kind(str(made_file))) == ("dir", "file")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s.sock"))
        assert host_path_kind(str(tmp_path / "s.sock")) == "socket"
    assert host_path_kind(str(tmp_path / "nothing")) is None
    with pytest.raises(VolumeError, match="is not a file"):
        check_host_path(VolumePlan("x", "hostPath", host_path=str(made_dir), host_path_type="File"))


def test_write_payload_is_atomic_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    write_payload(target, {"app.conf": f("x=1", 0o600), "conf/nested.conf": f("n"), "old": f("o")})
    assert (target / "app.conf").read_text() == "x=1"
    assert (target / "conf" / "nested.conf").read_text() == "n"
    assert os.readlink(target / "app.conf") == "..data/app.conf"
    assert os.readlink(target / "conf") == "..data/conf"
    first = os.readlink(target / "..data")
    assert first.startswith("..") and (target / first).is_dir()
    assert ((target / "app.conf").stat().st_mode & 0o777, (target / "old").stat().st_mode & 0o777) == (0o600, 0o644)
    write_payload(target, {"app.conf": f("x=2"), "new": f("n")})
    second = os.readlink(target / "..data")
    assert second != first and not (target / first).exists()
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith("..")) == ["app.conf", "new"]
    assert (target / "app.conf").read_text() == "x=2"
    write_payload(target, {})
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith("..")) == []


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../../b", "..hidden", ""])
def test_write_payload_refuses_escaping_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(VolumeError):
        write_payload(tmp_path / "v", {path: f("x")})
