"""Hypothesis strategies for hostile API requests: mutated objects, patches, queries, raw bodies.

Everything starts from a *valid* object (a seed manifest or what the server
stored) and breaks it a little, so requests get past the first checks and reach
decoding, defaulting, validation, admission and the patch engines:

* :func:`mutated` -- one to three changes at any depth: replace a value with a
  random JSON value, re-type it (a dict becomes a list of it, a number a
  string...), delete it, add an unknown field, append a list item;
* :func:`merge_patches`, :func:`strategic_patches` -- partial objects (the
  changed top-level keys of a mutation, or random nests built from the object's
  own field names) with ``$patch`` / ``$retainKeys`` / ``$setElementOrder`` /
  ``$deleteFromPrimitiveList`` directives for the strategic ones;
* :func:`json_patches` -- RFC 6902 operations on the object's real pointers,
  their near misses (``/-``, past the end, ``~2``, leading zeros) and junk;
* :func:`list_queries` -- list/watch query strings with edge values and
  well-formed continue tokens carrying hostile revisions;
* :func:`raw_bodies` -- bytes for each content type: garbage, truncated or
  flipped JSON, YAML with non-string keys, tags and deep nesting, and
  real kubectl protobuf bodies with bytes flipped.

No I/O: the strategies only build values; ``test_no_500`` sends them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml
from hypothesis import strategies as st

Path = tuple[str | int, ...]

EDGE_INTS = [0, 1, -1, 2, 80, 65535, 65536, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53 + 1,
             2**63 - 1, 2**63, -(2**63), 2**64, 10**30, -(10**30)]
EDGE_FLOATS = [0.5, -0.0, 1.0, 3.0, -2.5, 1e-300, 1e300, 1.7976931348623157e308, 2.0**31, 2.0**64, 1e20]
EDGE_STRINGS = [
    "", " ", "0", "-1", "1.5", "1e3", "1E400", "0x10", "100m", "1Gi", "1.5Ki", "-1Mi", "1e", "Mi", "25%", "-25%",
    "101%", "%", "abc%", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456Z", "2024-13-01T00:00:00Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2024-02-30T00:00:00Z", "TCP", "UDP", "SCTP",
    "Always", "Never", "None", "null", "true", "false", "NaN", "Infinity", "In", "NotIn", "Exists",
    "DoesNotExist", "Gt", "Lt", "NoSchedule", "NoExecute", "ClusterIP", "NodePort", "LoadBalancer",
    "ExternalName", "IPv4", "IPv6", "10.96.0.1", "10.96.0.10", "::1", "fd00::1", "256.1.1.1", "10.0.0.0/8",
    "0.0.0.0", "http://x/", "$(VAR)", "$$(VAR)", "kubernetes.io/x", "a/b/c", "-", ".", "..", "a..b",
    "UPPER", "a_b", "a" * 64, "a" * 254, "b" * 1000, "ÿ", "日本語", "\u0000", "\ufeff", "😀", "a\nb",
    "\\", '"', "~0", "~1", "/", "*", "[", "{}", "[]", "kube-system", "default", "RollingUpdate", "Recreate",
    "Orphan", "Foreground", "Background", "All", "Exact", "NotOlderThan", "Node", "Pod",
    "1e999999999", "1e-999999999", "9" * 400, "9" * 5000, "9" * 5000 + "%", "1.2.3." + "4" * 5000, "1" * 30 + "Ei", "1e18446744073709551616", "1e2147483648",
    "10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2024-05-01T10:00:00+24:00",
]
FIELD_WORDS = [
    "name", "namespace", "kind", "apiVersion", "metadata", "spec", "status", "labels", "annotations",
    "key", "value", "values", "operator", "port", "containerPort", "targetPort", "nodePort", "protocol",
    "containers", "initContainers", "image", "env", "valueFrom", "resources", "requests", "limits", "cpu",
    "memory", "selector", "matchLabels", "matchExpressions", "template", "replicas", "finalizers",
    "ownerReferences", "uid", "resourceVersion", "generation", "deletionTimestamp", "managedFields",
    "fieldsV1", "type", "conditions", "ports", "volumes", "volumeMounts", "mountPath", "ip", "addresses",
    "$patch", "$retainKeys", "foo", "",
]
DIRECTIVE_VALUES = ["replace", "merge", "delete", "Replace", "bogus", "", None, 1, [], {}]

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_INTS),
    st.integers(-(2**40), 2**40),
    st.sampled_from(EDGE_FLOATS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=12),
)


def pick(items: list[Any] | tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """One of ``items``, for lists that come from server answers.

    ``sampled_from`` would tie the draw's bounds to the list's length, which
    can differ between a run and its replay (another name, resourceVersion or
    uid in the object); a fixed-range index keeps replays and shrinking exact.
    """
    seq = list(items)
    return st.integers(0, 4095).map(lambda i: seq[i % len(seq)])


def json_values(keys: list[str] | None = None, max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Any JSON value; object keys from ``keys`` (the seed's own field names) or random text."""
    key = pick([*(keys or []), *FIELD_WORDS]) | st.text(max_size=10)
    return st.recursive(
        _leaf,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(key, children, max_size=3),
        max_leaves=max_leaves,
    )


# --------------------------------------------------------------------------- paths


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path in ``value``, the root first, in document order."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(paths(v, (*prefix, i)))
    return out


def field_names(value: Any) -> list[str]:
    """The object keys used anywhere in ``value`` (sorted, for deterministic draws)."""
    return sorted({str(p[-1]) for p in paths(value) if p and isinstance(p[-1], str)})


def get_at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def set_at(value: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    get_at(value, path[:-1])[path[-1]] = new
    return value


def delete_at(value: Any, path: Path) -> None:
    parent = get_at(value, path[:-1])
    del parent[path[-1]]


def pointer(path: Path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def clone(value: Any) -> Any:
    return json.loads(json.dumps(value))


def retyped(value: Any) -> list[Any]:
    """Values of another JSON type that still look like ``value`` (a list where a dict was...)."""
    if isinstance(value, dict):
        return [[value], list(value.values()), json.dumps(value), len(value), True, {"": value}]
    if isinstance(value, list):
        return [{"0": value[0]} if value else {}, value[0] if value else 0, [value], len(value), "[]"]
    if isinstance(value, bool):
        return ["true" if value else "false", int(value), [value], {"value": value}]
    if isinstance(value, int | float):
        return [str(value), float(value) + 0.5, [value], {"value": value}, value * 2**40, -value - 1, True]
    if isinstance(value, str):
        out: list[Any] = [[value], {value: value}, len(value), True, value * 50, value.upper(), " " + value]
        try:
            out.append(int(value))
        except ValueError:
            pass
        return out
    return [{}, [], "", 0, False]


# --------------------------------------------------------------------------- mutations

OPS = ("replace", "replace", "retype", "retype", "delete", "delete", "unknown", "append", "null")


@st.composite
def mutated(draw: st.DrawFn, obj: dict[str, Any], max_changes: int = 3) -> dict[str, Any]:
    """``obj`` with one to ``max_changes`` random changes at random depths."""
    out = clone(obj)
    keys = field_names(obj)
    for _ in range(draw(st.integers(1, max_changes))):
        all_paths = paths(out)
        op = draw(st.sampled_from(OPS))
        if op == "unknown":
            dicts = [p for p in all_paths if isinstance(get_at(out, p), dict)]
            if not dicts:
                continue
            where = draw(pick(dicts))
            key = draw(st.sampled_from(["foo", "$patch", "x-unknown", "apiVersion", "status"]) | st.text(max_size=8))
            get_at(out, where)[key] = draw(json_values(keys))
            continue
        if op == "append":
            lists = [p for p in all_paths if isinstance(get_at(out, p), list)]
            if not lists:
                continue
            where = draw(pick(lists))
            items = get_at(out, where)
            extra = clone(draw(pick(items))) if items and draw(st.booleans()) else draw(json_values(keys))
            items.append(extra)
            continue
        inner = [p for p in all_paths if p]
        if not inner:
            continue
        where = draw(pick(inner))
        if op == "delete":
            delete_at(out, where)
        elif op == "null":
            set_at(out, where, None)
        elif op == "retype":
            set_at(out, where, draw(pick(retyped(get_at(out, where)))))
        else:
            set_at(out, where, draw(json_values(keys)))
    return out


# --------------------------------------------------------------------------- patches


def _changed_top(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch of ``new``'s changed top-level keys (deleted ones as null)."""
    patch: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    for k in old:
        if k not in new:
            patch[k] = None
    return patch


@st.composite
def _nest(draw: st.DrawFn, obj: dict[str, Any]) -> dict[str, Any]:
    """A random value placed at a real path of ``obj``, the path rebuilt as objects (and 1-item lists)."""
    where = draw(pick([p for p in paths(obj) if p] or [("spec",)]))
    value = draw(json_values(field_names(obj)))
    for step in reversed(where):
        value = [value] if isinstance(step, int) else {step: value}
    return value if isinstance(value, dict) else {"spec": value}


@st.composite
def merge_patches(draw: st.DrawFn, current: dict[str, Any]) -> Any:
    kind = draw(st.sampled_from(["diff", "diff", "nest", "random", "scalar"]))
    if kind == "diff":
        return _changed_top(current, draw(mutated(current)))
    if kind == "nest":
        return draw(_nest(current))
    if kind == "random":
        return draw(st.dictionaries(pick(field_names(current)), json_values(field_names(current)),
                                    max_size=3))
    return draw(_leaf | st.lists(_leaf, max_size=2))


@st.composite
def strategic_patches(draw: st.DrawFn, current: dict[str, Any]) -> Any:
    patch = draw(merge_patches(current))
    if not isinstance(patch, dict):
        return patch
    for _ in range(draw(st.integers(0, 3))):
        dicts = [p for p in paths(patch) if isinstance(get_at(patch, p), dict)]
        where = draw(pick(dicts))
        target = get_at(patch, where)
        lists = sorted(k for k, v in target.items() if isinstance(v, list)) or field_names(current)[:5] or ["x"]
        directive = draw(st.sampled_from(["$patch", "$retainKeys", "$setElementOrder", "$deleteFromPrimitiveList"]))
        if directive == "$patch":
            target["$patch"] = clone(draw(st.sampled_from(DIRECTIVE_VALUES)))  # never share the [] and {}
        elif directive == "$retainKeys":
            target["$retainKeys"] = draw(st.lists(pick(field_names(current)), max_size=3)
                                         | json_values())
        else:
            name = draw(pick(lists))
            target[f"{directive}/{name}"] = draw(json_values(field_names(current)))
    return patch


JSON_PATCH_OPS = ["add", "remove", "replace", "move", "copy", "test"]


@st.composite
def _pointer(draw: st.DrawFn, current: dict[str, Any]) -> Any:
    real = pointer(draw(pick(paths(current))))
    kind = draw(st.sampled_from(["real", "real", "real", "tweak", "junk"]))
    if kind == "real":
        return real
    if kind == "tweak":
        return real + draw(st.sampled_from(["/-", "/999", "/-1", "/-9", "/01", "/ 1", "/x", "/", "~", "~2",
                                            "/~1", "/0/0", "/9223372036854775808", "/" + "9" * 5000]))
    return draw(st.sampled_from(["", "/", "//", "-", "/-", "~", "a", "/spec/containers/-"]) | st.text(max_size=10)
                | _leaf)


@st.composite
def json_patches(draw: st.DrawFn, current: dict[str, Any]) -> Any:
    """A JSON patch: mostly well-formed operations on real paths, sometimes not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values() | st.lists(_leaf, max_size=3))
    ops: list[Any] = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(_pointer(current))
        op: dict[str, Any] = {"op": draw(st.sampled_from(JSON_PATCH_OPS) | _leaf), "path": path}
        if draw(st.booleans()):
            real = isinstance(path, str) and path in {pointer(p) for p in paths(current)}
            if real and draw(st.booleans()):
                op["value"] = draw(pick(retyped(_resolve(current, path))))
            else:
                op["value"] = draw(json_values(field_names(current)))
        if draw(st.booleans()):
            op["from"] = draw(_pointer(current))
        for k in draw(st.lists(st.sampled_from(["op", "path"]), max_size=1)):
            del op[k]
        ops.append(op if draw(st.integers(0, 14)) else draw(_leaf))
    return ops


def _resolve(obj: Any, ptr: str) -> Any:
    for token in ptr.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        obj = obj[int(token)] if isinstance(obj, list) else obj[token]
    return obj


# --------------------------------------------------------------------------- query strings

LIST_PARAMS = ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
               "resourceVersionMatch", "timeoutSeconds", "watch", "allowWatchBookmarks",
               "sendInitialEvents", "includeObject", "pretty", "dryRun", "propagationPolicy"]
SELECTORS = ["app=nginx", "app!=x", "app in (a,b)", "app notin ()", "!app", "app", "a,b", "=", "==a", "app=",
             "app in (", "x=y=z", "a b", "k8s.io/app=web", "-a=b", "a=" + "v" * 70, "metadata.name=fz-target",
             "metadata.namespace!=default", "spec.nodeName=", "status.phase=Running", "spec.unknown=x",
             "metadata.name", "a=b,", ",", "\\", "a=\\,", "a in (b),c notin (d)", "a>1", "a<1", "a>x",
             "a>" + "9" * 5000, "a<-9223372036854775809"]
RV_VALUES = ["", "0", "1", "2", "-1", "abc", "1.5", "1e3", " 1", "00", "+1", "0x1"]
# Revisions from the future: a list served from the watch cache waits 3 s for them (as upstream
# does) before its 504, so they come paired with resourceVersionMatch=Exact (read from the store).
FUTURE_RVS = ["99999999999", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1" * 30]
AT_MOST_64 = 2**63 - 1


def continue_tokens() -> st.SearchStrategy[str]:
    """Well-formed continue tokens with hostile contents, and plain junk."""
    body = st.fixed_dictionaries({
        "v": st.sampled_from(["meta.k8s.io/v1", "v2", ""]),
        "rv": st.sampled_from([1, 0, -1, 2**31, AT_MOST_64, 2**63, 2**64, 10**30, "5", None, 1.5]),
        "start": st.sampled_from(["", "fz", "fz-target/x", "../x", "\u0000", "ÿ"]) | st.text(max_size=6),
    })
    tokens = body.map(lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("="))
    return tokens | st.sampled_from(["", "x", "====", "e30", "bnVsbA", "W10"]) | st.text(max_size=10)


def query_values(name: str) -> st.SearchStrategy[str]:
    edge = st.sampled_from(["", "0", "-1", "1", "true", "false", "2147483648", "1e400", "99999999999999999999999",
                            "NaN", "abc", " "])
    if name in ("labelSelector", "fieldSelector"):
        return st.sampled_from(SELECTORS) | st.text(max_size=12)
    if name == "continue":
        return continue_tokens()
    if name == "resourceVersion":
        return st.sampled_from(RV_VALUES) | st.text(max_size=4)
    if name == "resourceVersionMatch":
        return st.sampled_from(["", "Exact", "NotOlderThan", "exact", "Bogus"])
    if name in ("watch", "allowWatchBookmarks", "sendInitialEvents", "pretty"):
        return st.sampled_from(["true", "false", "1", "0", "", "yes"])
    if name == "includeObject":
        return st.sampled_from(["None", "Metadata", "Object", "", "Bogus"])
    return edge | st.text(max_size=6)


@st.composite
def list_queries(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(LIST_PARAMS), min_size=1, max_size=4, unique=True))
    query = {n: draw(query_values(n)) for n in names}
    if draw(st.integers(0, 7)) == 0:
        query.update(resourceVersion=draw(st.sampled_from(FUTURE_RVS)), resourceVersionMatch="Exact")
        query.pop("watch", None)
    return query


ACCEPTS = ["application/json", "application/yaml", "*/*", "text/html", "",
           "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
           "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
           "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
           "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
           "application/json;as=Table;v=v9;g=meta.k8s.io", "application/vnd.kubernetes.protobuf", ";;,",
           "application/json;as=Table"]


# --------------------------------------------------------------------------- raw bodies

YAML_SPECIALS = [
    b"1: 2\n", b"metadata:\n  name: x\n  1: 2\n", b"metadata:\n  labels:\n    1: 2\n    true: false\n",
    b"metadata:\n  annotations:\n    a: 2024-01-01\n", b"metadata:\n  name: 2024-01-01\n",
    b"metadata:\n  name: !!binary aGVsbG8=\n", b"metadata: !!set {a, b}\n", b"spec: !!python/object:os.system x\n",
    b"metadata:\n  name: .nan\n", b"metadata:\n  labels: {? [a, b]: c}\n", b"metadata:\n  null: x\n",
    b"a: &x [1]\nb: *x\n", b"a: *unknown\n", b"%YAML 9.9\n---\na: 1\n", b"---\na: 1\n---\nb: 2\n", b"- 1\n- 2\n",
    b"\t\x00", b"metadata:\n  name: x\nmetadata:\n  name: y\n", b"spec:\n  replicas: 0x10\n",
    b"spec:\n  replicas: 1_000\n", b"spec:\n  replicas: 0o17\n", b"spec:\n  replicas: 1:20\n",
    b"metadata:\n  creationTimestamp: 2024-05-01 10:00:00\n", b"metadata:\n  labels: {~: x}\n",
    b"metadata:\n  name: x\n  managedFields:\n  - fieldsV1: {1: 2}\n",
    b"a:\n  " + b"[" * 3000 + b"]" * 3000 + b"\n", b"a: " + b"{a: " * 400 + b"1" + b"}" * 400 + b"\n",
    *(b"metadata:\n  name: fz-target-0\n  managedFields:\n  - manager: m\n    operation: Update\n    apiVersion: v1\n"
      b"    fieldsType: FieldsV1\n    fieldsV1: " + v + b"\n"
      for v in (b"{f:a: !!binary aGVsbG8=}", b"!!set {a, b}", b"{f:a: 2024-01-01}", b"{f:a: .nan}", b"{1: 2}",
                b"{f:a: [" + b"[" * 300 + b"]" * 300 + b"]}")),
]
JSON_SPECIALS = [
    b"{", b"}", b"[]", b"null", b"1", b'"x"', b"{}", b'{"a":1,"a":2}', b'{"metadata":{"name":"x","name":"y"}}',
    b'{"metadata":1}', b'{"metadata":[]}', b'{"apiVersion":1}', b'{"kind":{}}', b'{"apiVersion":"v9"}',
    b'{"metadata":{"name":"\\ud800"}}', b"\xff\xfe", b'{"a":NaN}', b'{"a":1e400}', b'{"a":-0}',
    b'{"metadata":{"labels":{"a":18446744073709551616}}}', b"[" * 2000 + b"]" * 2000,
    b'{"a":' * 1100 + b"1" + b"}" * 1100, b'{"a":' * 300 + b"1" + b"}" * 300,
    b'{"metadata":{"name":"x","managedFields":[{"fieldsV1":' + b'{"f":' * 300 + b"1" + b"}" * 300 + b"}]}}",
    b'\xef\xbb\xbf{"metadata":{"name":"bom"}}', b" " * 10 + b"{}",
]


def _flip(data: bytes, draw: st.DrawFn) -> bytes:
    """``data`` with a few byte-level edits: flips, inserts, deletions, a truncation."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not buf:
            break
        i = draw(st.integers(0, 1 << 16)) % len(buf)
        edit = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if edit == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif edit == "set":
            buf[i] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x12, 0x1A, 0x22]))
        elif edit == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif edit == "delete":
            del buf[i]
        else:
            del buf[i:]
    return bytes(buf)


@st.composite
def raw_bodies(draw: st.DrawFn, ctype: str, seed_json: bytes, protobuf_seeds: list[bytes]) -> bytes:
    """Malformed (or barely well-formed) bytes for the media type ``ctype``."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if "protobuf" in ctype:
        if choice <= 2:
            return b"k8s\x00" + draw(st.binary(max_size=64))
        return _flip(draw(st.sampled_from(protobuf_seeds)), draw)
    if "yaml" in ctype:
        if choice <= 4:
            return draw(st.sampled_from(YAML_SPECIALS))
        text = yaml.safe_dump(json.loads(seed_json)).encode()
        return _flip(text, draw)
    if choice <= 3:
        return draw(st.sampled_from(JSON_SPECIALS))
    return _flip(seed_json, draw)

