"""Bad input over plain HTTP: every mistake is a ``Status`` with upstream's code, reason and message.

Each case sends raw bytes (so malformed bodies reach the server as they are)
and checks the answer as ``kubectl`` and client-go read it: the HTTP code, the
``Status`` reason and message, ``details.causes`` where upstream gives them,
and that a refused request stored nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.serverproc import ServerProc

Body = dict[str, Any]

POD_SPEC: Body = {"containers": [{"name": "app", "image": "nginx:1.25"}]}
JSON = "application/json"

DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


class API:
    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def request(self, method: str, path: str, body: Any = None, *, ctype: str = JSON,
                params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body).encode()
        hdrs = {"Content-Type": ctype, **(headers or {})} if data is not None else dict(headers or {})
        return self.http.request(method, self.url(path), data=data, params=params, headers=hdrs, timeout=30)


def assert_status(resp: requests.Response, code: int, reason: str, message: str | None = None,
                  *, prefix: str | None = None) -> Body:
    assert resp.status_code == code, f"{resp.status_code}: {resp.text}"
    assert resp.headers["Content-Type"].startswith("application/json")
    st: Body = resp.json()
    assert st["kind"] == "Status" and st["apiVersion"] == "v1"
    assert st["status"] == "Failure"
    assert st["code"] == code
    assert st["reason"] == reason, st
    if message is not None:
        assert st["message"] == message
    if prefix is not None:
        assert st["message"].startswith(prefix), st["message"]
    return st


@pytest.fixture(scope="module")
def api(server: ServerProc) -> Iterator[API]:
    a = API(server.url)
    yield a
    a.http.close()


@pytest.fixture
def ns(api: API) -> Iterator[str]:
    name = "err-" + uuid.uuid4().hex[:10]
    r = api.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    yield name
    api.request("DELETE", f"/api/v1/namespaces/{name}")


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


# What the controllers put in every namespace (as upstream's do): not the test's objects.
SYSTEM_OBJECTS = {"kube-root-ca.crt", "default"}


def names_in(api: API, path: str) -> list[str]:
    r = api.request("GET", path)
    assert r.status_code == 200, r.text
    return [i["metadata"]["name"] for i in r.json()["items"] if i["metadata"]["name"] not in SYSTEM_OBJECTS]


# -- malformed bodies ------------------------------------------------------------------------------------


def test_malformed_json_is_bad_request(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), b'{"metadata": {"name": "x"}, "data": ')
    assert_status(r, 400, "BadRequest",
                  prefix="the object provided is unrecognized (must be of type ConfigMap): "
                         "couldn't get version/kind; json parse error: ")
    assert names_in(api, cm_path(ns)) == []


def test_yaml_body_is_accepted(api: API, ns: str) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  key: value\n"
    r = api.request("POST", cm_path(ns), body, ctype="application/yaml")
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {"key": "value"}


def test_malformed_yaml_is_bad_request(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), "metadata: {name: x\ndata: [", ctype="application/yaml")
    assert_status(r, 400, "BadRequest")
    assert names_in(api, cm_path(ns)) == []


def test_body_over_3_mib_is_request_entity_too_large(api: API, ns: str) -> None:
    big = {"metadata": {"name": "huge"}, "data": {"blob": "x" * (3 * 1024 * 1024 + 10)}}
    r = api.request("POST", cm_path(ns), big)
    assert_status(r, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    assert names_in(api, cm_path(ns)) == []


def test_body_over_3_mib_without_content_length_is_refused(api: API, ns: str) -> None:
    chunk = b"x" * 65536

    def body() -> Iterator[bytes]:
        yield b'{"metadata": {"name": "huge"}, "data": {"blob": "'
        for _ in range(3 * 16 + 1):
            yield chunk
        yield b'"}}'

    r = api.http.post(api.url(cm_path(ns)), data=body(), headers={"Content-Type": JSON}, timeout=30)
    assert_status(r, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    assert names_in(api, cm_path(ns)) == []


def test_empty_body_is_bad_request(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), b"")
    assert_status(r, 400, "BadRequest")


# -- wrong endpoint, kind or version ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/default/widgets",
    "/api/v1/widgets",
    "/apis/nope.example.com/v1/things",
    "/apis/apps/v7/deployments",
    "/api/v2/pods",
])
def test_unknown_resource_is_not_found(api: API, path: str) -> None:
    assert_status(api.request("GET", path), 404, "NotFound", "the server could not find the requested resource")


def test_missing_object_is_not_found(api: API, ns: str) -> None:
    st = assert_status(api.request("GET", cm_path(ns, "ghost")), 404, "NotFound",
                       'configmaps "ghost" not found')
    assert st["details"] == {"name": "ghost", "kind": "configmaps"}
    st = assert_status(api.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/ghost"), 404,
                       "NotFound", 'deployments.apps "ghost" not found')
    assert st["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


def test_body_of_another_kind_is_bad_request(api: API, ns: str) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods",
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    st = assert_status(r, 400, "BadRequest")
    assert "ConfigMap" in st["message"] and "Pod" in st["message"]
    assert names_in(api, f"/api/v1/namespaces/{ns}/pods") == []


def test_body_of_another_api_version_is_bad_request(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), {"apiVersion": "apps/v1", "kind": "ConfigMap",
                                          "metadata": {"name": "x"}})
    st = assert_status(r, 400, "BadRequest")
    assert "apps/v1" in st["message"]
    assert names_in(api, cm_path(ns)) == []


def test_namespace_in_body_must_match_the_url(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), {"metadata": {"name": "x", "namespace": "elsewhere"}})
    assert_status(r, 400, "BadRequest",
                  "the namespace of the provided object does not match the namespace sent on the request")


def test_name_in_body_must_match_the_url_on_update(api: API, ns: str) -> None:
    api.request("POST", cm_path(ns), {"metadata": {"name": "a"}})
    r = api.request("PUT", cm_path(ns, "a"), {"metadata": {"name": "b"}})
    assert_status(r, 400, "BadRequest", "the name of the object (b) does not match the name on the URL (a)")


# -- invalid objects -------------------------------------------------------------------------------------


def test_invalid_name_is_unprocessable(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), {"metadata": {"name": "Bad_Name"}})
    st = assert_status(r, 422, "Invalid",
                       f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                       f"{DNS1123_SUBDOMAIN}")
    assert st["details"]["name"] == "Bad_Name" and st["details"]["kind"] == "ConfigMap"
    assert st["details"]["causes"] == [{"reason": "FieldValueInvalid",
                                        "message": f'Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN}',
                                        "field": "metadata.name"}]
    assert names_in(api, cm_path(ns)) == []


def test_missing_name_is_unprocessable(api: API, ns: str) -> None:
    st = assert_status(api.request("POST", cm_path(ns), {"data": {"a": "b"}}), 422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "metadata.name"
    assert st["details"]["causes"][0]["reason"] == "FieldValueRequired"
    assert "name or generateName is required" in st["message"]


def test_missing_required_field_is_unprocessable(api: API, ns: str) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "p"}, "spec": {}})
    st = assert_status(r, 422, "Invalid", 'Pod "p" is invalid: spec.containers: Required value')
    assert st["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value",
                                        "field": "spec.containers"}]


def test_wrong_type_cannot_be_handled(api: API, ns: str) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods",
                    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "x"}})
    assert_status(r, 400, "BadRequest", prefix='Pod in version "v1" cannot be handled as a Pod: ')
    assert names_in(api, f"/api/v1/namespaces/{ns}/pods") == []


def test_selector_must_match_template_labels(api: API, ns: str) -> None:
    dep = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
                                                "template": {"metadata": {"labels": {"app": "b"}},
                                                             "spec": POD_SPEC}}}
    st = assert_status(api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep), 422, "Invalid")
    assert "spec.template.metadata.labels" in [c["field"] for c in st["details"]["causes"]]
    assert st["details"]["group"] == "apps" and st["details"]["kind"] == "Deployment"


# -- fieldValidation -------------------------------------------------------------------------------------


def _pod_with_unknown_field(name: str) -> Body:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {**POD_SPEC, "foo": 1}}


def test_field_validation_strict_refuses_unknown_fields(api: API, ns: str) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", _pod_with_unknown_field("p"),
                    params={"fieldValidation": "Strict"})
    assert_status(r, 400, "BadRequest",
                  'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo"')
    assert names_in(api, f"/api/v1/namespaces/{ns}/pods") == []


@pytest.mark.parametrize("params", [{"fieldValidation": "Warn"}, {}], ids=["Warn", "default"])
def test_field_validation_warn_answers_with_a_warning_header(api: API, ns: str,
                                                             params: dict[str, str]) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", _pod_with_unknown_field("p"), params=params)
    assert r.status_code == 201, r.text
    assert r.headers.get("Warning") == '299 - "unknown field \\"spec.foo\\""'
    assert "foo" not in r.json()["spec"]


def test_field_validation_ignore_is_silent(api: API, ns: str) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", _pod_with_unknown_field("p"),
                    params={"fieldValidation": "Ignore"})
    assert r.status_code == 201, r.text
    assert "Warning" not in r.headers
    assert "foo" not in r.json()["spec"]


def test_field_validation_strict_refuses_duplicate_fields(api: API, ns: str) -> None:
    raw = b'{"metadata": {"name": "dup"}, "data": {"a": "1"}, "data": {"b": "2"}}'
    r = api.request("POST", cm_path(ns), raw, params={"fieldValidation": "Strict"})
    assert_status(r, 400, "BadRequest",
                  'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                  'duplicate field "data"')


def test_field_validation_unknown_value(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), {"metadata": {"name": "x"}}, params={"fieldValidation": "Loose"})
    assert_status(r, 400, "BadRequest")


# -- patches ---------------------------------------------------------------------------------------------


def test_server_side_apply_is_unsupported_media_type(api: API, ns: str) -> None:
    api.request("POST", cm_path(ns), {"metadata": {"name": "a"}, "data": {"k": "v"}})
    r = api.request("PATCH", cm_path(ns, "a"),
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: w\n",
                    ctype="application/apply-patch+yaml", params={"fieldManager": "test"})
    assert_status(r, 415, "UnsupportedMediaType",
                  prefix="the body of the request was in an unknown format - accepted media types include: ")
    assert api.request("GET", cm_path(ns, "a")).json()["data"] == {"k": "v"}


@pytest.mark.parametrize("ctype", ["text/plain", "application/json", "application/xml"])
def test_unsupported_patch_type(api: API, ns: str, ctype: str) -> None:
    api.request("POST", cm_path(ns), {"metadata": {"name": "a"}})
    r = api.request("PATCH", cm_path(ns, "a"), {"data": {"k": "v"}}, ctype=ctype)
    st = assert_status(r, 415, "UnsupportedMediaType",
                       prefix="the body of the request was in an unknown format - accepted media types include: ")
    for accepted in ("application/json-patch+json", "application/merge-patch+json",
                     "application/strategic-merge-patch+json"):
        assert accepted in st["message"]


def test_json_patch_failing_test_is_unprocessable(api: API, ns: str) -> None:
    created = api.request("POST", cm_path(ns), {"metadata": {"name": "a"}, "data": {"k": "v"}}).json()
    r = api.request("PATCH", cm_path(ns, "a"),
                    [{"op": "test", "path": "/data/k", "value": "other"},
                     {"op": "replace", "path": "/data/k", "value": "changed"}],
                    ctype="application/json-patch+json")
    # Upstream wraps the json-patch error in NewGenericServerResponse(422, ...), which keeps its own text.
    assert_status(r, 422, "Invalid", "the server rejected our request due to an error in our request")
    after = api.request("GET", cm_path(ns, "a")).json()
    assert after["data"] == {"k": "v"}
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_json_patch_that_is_not_a_list_is_bad_request(api: API, ns: str) -> None:
    api.request("POST", cm_path(ns), {"metadata": {"name": "a"}})
    r = api.request("PATCH", cm_path(ns, "a"), {"op": "add"}, ctype="application/json-patch+json")
    assert_status(r, 400, "BadRequest")


def test_patch_of_missing_object_is_not_found(api: API, ns: str) -> None:
    r = api.request("PATCH", cm_path(ns, "ghost"), {"data": {"k": "v"}}, ctype="application/merge-patch+json")
    assert_status(r, 404, "NotFound", 'configmaps "ghost" not found')


def test_patch_making_the_object_invalid_is_unprocessable(api: API, ns: str) -> None:
    api.request("POST", cm_path(ns), {"metadata": {"name": "a"}})
    r = api.request("PATCH", cm_path(ns, "a"), {"metadata": {"labels": {"bad key!": "v"}}},
                    ctype="application/merge-patch+json")
    st = assert_status(r, 422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "metadata.labels"


# -- concurrency -----------------------------------------------------------------------------------------


def test_conflicting_updates(api: API, ns: str) -> None:
    cm = api.request("POST", cm_path(ns), {"metadata": {"name": "a"}, "data": {"k": "0"}}).json()
    first = dict(cm, data={"k": "1"})
    second = dict(cm, data={"k": "2"})
    r1 = api.request("PUT", cm_path(ns, "a"), first)
    assert r1.status_code == 200, r1.text
    r2 = api.request("PUT", cm_path(ns, "a"), second)
    st = assert_status(r2, 409, "Conflict",
                       'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
                       "please apply your changes to the latest version and try again")
    assert st["details"] == {"name": "a", "kind": "configmaps"}
    assert api.request("GET", cm_path(ns, "a")).json()["data"] == {"k": "1"}


def test_create_twice_is_already_exists(api: API, ns: str) -> None:
    assert api.request("POST", cm_path(ns), {"metadata": {"name": "a"}}).status_code == 201
    st = assert_status(api.request("POST", cm_path(ns), {"metadata": {"name": "a"}}), 409, "AlreadyExists",
                       'configmaps "a" already exists')
    assert st["details"] == {"name": "a", "kind": "configmaps"}


def test_update_of_immutable_field_is_unprocessable(api: API, ns: str) -> None:
    api.request("POST", cm_path(ns), {"metadata": {"name": "frozen"}, "data": {"k": "v"}, "immutable": True})
    r = api.request("PUT", cm_path(ns, "frozen"), {"metadata": {"name": "frozen"}, "data": {"k": "w"},
                                                    "immutable": True})
    st = assert_status(r, 422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "data"


def test_method_not_allowed(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns, "a"), {"metadata": {"name": "a"}})
    assert_status(r, 405, "MethodNotAllowed")


def test_invalid_dry_run_value(api: API, ns: str) -> None:
    r = api.request("POST", cm_path(ns), {"metadata": {"name": "a"}}, params={"dryRun": "Some"})
    assert_status(r, 400, "BadRequest")
    assert names_in(api, cm_path(ns)) == []
