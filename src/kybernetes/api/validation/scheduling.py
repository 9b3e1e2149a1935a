"""Pod spec fields about placement and the pod's environment.

Tolerations, node and pod (anti-)affinity, topology spread constraints,
scheduling and readiness gates, DNS config, host aliases and the pod-level
security context: each mirrors its upstream ``validate*`` function with the
same paths and messages.  The scheduler reads these fields, so rejecting a
malformed one at the API keeps the scheduler's plugins simple.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import names
from kybernetes.api.validation.field import Errs, as_dict, as_int, as_list, as_str, child, dicts, index
from kybernetes.api.validation.meta import validate_label_name, validate_label_selector

TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_CHARS = 2048


def validate_qualified_name(value: str, path: str) -> Errs:
    return [errors.invalid_value(path, value, m) for m in names.is_qualified_name(value)]


def validate_taint_effect(effect: str, allow_empty: bool, path: str) -> Errs:
    if not allow_empty and not effect:
        return [errors.required(path)]
    if effect not in TAINT_EFFECTS:
        return [errors.not_supported(path, effect, TAINT_EFFECTS)]
    return []


def validate_tolerations(tolerations: Any, path: str) -> Errs:
    errs: Errs = []
    for i, t in enumerate(dicts(tolerations)):
        p = index(path, i)
        k, op, value, effect = (as_str(t.get(f)) for f in ("key", "operator", "value", "effect"))
        if k:
            errs += validate_label_name(k, child(p, "key"))
        if not k and op != "Exists":
            errs.append(errors.invalid_value(
                child(p, "operator"), op,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(errors.invalid_value(child(p, "effect"), effect,
                                             "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = names.is_label_value(value)
            if msgs:
                errs.append(errors.invalid_value(child(p, "operator"), value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(errors.invalid_value(child(p, "operator"), t,
                                                 "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(errors.not_supported(child(p, "operator"), op, ["Equal", "Exists"]))
        if effect:
            errs += validate_taint_effect(effect, True, child(p, "effect"))
    return errs


# -- affinity ---------------------------------------------------------------------------


def _node_selector_requirement(req: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    op, values = as_str(req.get("operator")), as_list(req.get("values"))
    if op in ("In", "NotIn"):
        if not values:
            errs.append(errors.required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(errors.forbidden_field(child(path, "values"),
                                               "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(errors.required(child(path, "values"),
                                        "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(errors.invalid_value(child(path, "operator"), op, "not a valid selector operator"))
    return errs + validate_label_name(as_str(req.get("key")), child(path, "key"))


def _node_field_requirement(req: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    op, values = as_str(req.get("operator")), as_list(req.get("values"))
    if op in ("In", "NotIn"):
        if len(values) != 1:
            errs.append(errors.required(child(path, "values"), "must be only one value when `operator` is 'In' or "
                                                               "'NotIn' for node field selector"))
    else:
        errs.append(errors.invalid_value(child(path, "operator"), op, "not a valid selector operator"))
    k = as_str(req.get("key"))
    if k != "metadata.name":
        errs.append(errors.invalid_value(child(path, "key"), k, "not a valid field selector key"))
    else:
        for i, v in enumerate(values):
            errs += [errors.invalid_value(index(child(path, "values"), i), v, m)
                     for m in names.is_dns1123_subdomain(as_str(v))]
    return errs


def validate_node_selector_term(term: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    for j, req in enumerate(dicts(term.get("matchExpressions"))):
        errs += _node_selector_requirement(req, index(child(path, "matchExpressions"), j))
    for j, req in enumerate(dicts(term.get("matchFields"))):
        errs += _node_field_requirement(req, index(child(path, "matchFields"), j))
    return errs


def _node_affinity(na: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    required = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(required, dict):
        rp = child(path, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
        terms = dicts(required.get("nodeSelectorTerms"))
        if not terms:
            errs.append(errors.required(rp, "must have at least one node selector term"))
        for i, term in enumerate(terms):
            errs += validate_node_selector_term(term, index(rp, i))
    pp = child(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(dicts(na.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        errs += _weight(term.get("weight"), child(index(pp, i), "weight"))
        errs += validate_node_selector_term(as_dict(term.get("preference")), child(index(pp, i), "preference"))
    return errs


def _weight(weight: Any, path: str) -> Errs:
    w = as_int(weight) or 0
    return [] if 1 <= w <= 100 else [errors.invalid_value(path, w, "must be in the range 1-100")]


def _pod_affinity_term(term: dict[str, Any], path: str) -> Errs:
    errs = validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs += validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    for ns in as_list(term.get("namespaces")):
        errs += [errors.invalid_value(child(path, "namespace"), ns, m) for m in names.is_dns1123_label(as_str(ns))]
    for f in ("matchLabelKeys", "mismatchLabelKeys"):
        keys = as_list(term.get(f))
        if keys and not isinstance(term.get("labelSelector"), dict):
            errs.append(errors.forbidden_field(child(path, f), "must not be specified when labelSelector is not set"))
            continue
        for i, k in enumerate(keys):
            errs += validate_label_name(as_str(k), index(child(path, f), i))
    topology_key = as_str(term.get("topologyKey"))
    if not topology_key:
        errs.append(errors.required(child(path, "topologyKey"), "can not be empty"))
    return errs + validate_label_name(topology_key, child(path, "topologyKey"))


def _pod_affinity(pa: dict[str, Any], path: str) -> Errs:
    errs: Errs = []
    rp = child(path, "requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(dicts(pa.get("requiredDuringSchedulingIgnoredDuringExecution"))):
        errs += _pod_affinity_term(term, index(rp, i))
    pp = child(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, wt in enumerate(dicts(pa.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        errs += _weight(wt.get("weight"), child(index(pp, i), "weight"))
        errs += _pod_affinity_term(as_dict(wt.get("podAffinityTerm")), child(index(pp, i), "podAffinityTerm"))
    return errs


def validate_affinity(affinity: Any, path: str) -> Errs:
    a = as_dict(affinity)
    errs: Errs = []
    if isinstance(a.get("nodeAffinity"), dict):
        errs += _node_affinity(a["nodeAffinity"], child(path, "nodeAffinity"))
    for f in ("podAffinity", "podAntiAffinity"):
        if isinstance(a.get(f), dict):
            errs += _pod_affinity(a[f], child(path, f))
    return errs


def validate_topology_spread(constraints: Any, path: str) -> Errs:
    errs: Errs = []
    items = dicts(constraints)
    for i, c in enumerate(items):
        p = index(path, i)
        skew = as_int(c.get("maxSkew")) or 0
        if skew <= 0:
            errs.append(errors.invalid_value(child(p, "maxSkew"), skew, "must be greater than zero"))
        if not as_str(c.get("topologyKey")):
            errs.append(errors.required(child(p, "topologyKey"), "can not be empty"))
        action = as_str(c.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(errors.not_supported(child(p, "whenUnsatisfiable"), action,
                                             ["DoNotSchedule", "ScheduleAnyway"]))
        for later in items[i + 1:]:
            if (later.get("topologyKey"), later.get("whenUnsatisfiable")) == (c.get("topologyKey"), action):
                errs.append(errors.duplicate(child(p, "{topologyKey, whenUnsatisfiable}"),
                                             f"{{{as_str(c.get('topologyKey'))}, {action}}}"))
                break
        min_domains = c.get("minDomains")
        if min_domains is not None:
            md = as_int(min_domains) or 0
            if md <= 0:
                errs.append(errors.invalid_value(child(p, "minDomains"), md, "must be greater than zero"))
            if action != "DoNotSchedule":
                errs.append(errors.invalid_value(child(p, "minDomains"), md,
                                                 f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"))
        for f in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            v = c.get(f)
            if v is not None and v not in ("Honor", "Ignore"):
                errs.append(errors.not_supported(child(p, f), v, ["Honor", "Ignore"]))
        errs += validate_label_selector(c.get("labelSelector"), child(p, "labelSelector"))
    return errs


# -- pod environment ------------------------------------------------------------------------


def validate_dns_config(config: Any, dns_policy: str, path: str) -> Errs:
    if dns_policy == "None":
        if not isinstance(config, dict):
            return [errors.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(config.get("nameservers")):
            return [errors.required(child(path, "nameservers"),
                                    "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if not isinstance(config, dict):
        return []
    errs: Errs = []
    servers, searches = as_list(config.get("nameservers")), [as_str(s) for s in as_list(config.get("searches"))]
    if len(servers) > MAX_DNS_NAMESERVERS:
        errs.append(errors.invalid_value(child(path, "nameservers"), servers,
                                         f"must not have more than {MAX_DNS_NAMESERVERS} nameservers"))
    for i, ns in enumerate(servers):
        errs += [errors.invalid_value(index(child(path, "nameservers"), i), ns, m) for m in names.is_valid_ip(as_str(ns))]
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        errs.append(errors.invalid_value(child(path, "searches"), searches,
                                         f"must not have more than {MAX_DNS_SEARCH_PATHS} search paths"))
    if len(" ".join(searches)) > MAX_DNS_SEARCH_CHARS:
        errs.append(errors.invalid_value(child(path, "searches"), searches, f"must not have more than "
                                         f"{MAX_DNS_SEARCH_CHARS} characters (including spaces) in the search list"))
    for i, s in enumerate(searches):
        s = s.removesuffix(".")  # a trailing dot is fine
        errs += [errors.invalid_value(index(child(path, "searches"), i), s, m) for m in names.is_dns1123_subdomain(s)]
    for i, o in enumerate(dicts(config.get("options"))):
        if not as_str(o.get("name")):
            errs.append(errors.required(index(child(path, "options"), i), "must not be empty"))
    return errs


def validate_host_aliases(aliases: Any, path: str) -> Errs:
    errs: Errs = []
    for i, a in enumerate(dicts(aliases)):
        ip = as_str(a.get("ip"))
        errs += [errors.invalid_value(child(index(path, i), "ip"), ip, m) for m in names.is_valid_ip(ip)]
        for j, h in enumerate(as_list(a.get("hostnames"))):
            hp = index(child(index(path, i), "hostnames"), j)
            errs += [errors.invalid_value(hp, h, m) for m in names.is_dns1123_subdomain(as_str(h))]
    return errs


def validate_pod_security_context(sc: Any, path: str) -> Errs:
    if not isinstance(sc, dict):
        return []
    errs: Errs = []
    for f in ("fsGroup", "runAsUser", "runAsGroup"):
        n = as_int(sc.get(f))
        if n is not None:
            errs += [errors.invalid_value(child(path, f), n, m) for m in names.is_valid_user_id(n)]
    for g, gid in enumerate(as_list(sc.get("supplementalGroups"))):
        n = as_int(gid) or 0
        errs += [errors.invalid_value(index(child(path, "supplementalGroups"), g), n, m)
                 for m in names.is_valid_user_id(n)]
    policy = sc.get("fsGroupChangePolicy")
    if policy is not None and policy not in ("Always", "OnRootMismatch"):
        errs.append(errors.not_supported(child(path, "fsGroupChangePolicy"), policy, ["Always", "OnRootMismatch"]))
    seen: set[str] = set()
    for i, s in enumerate(dicts(sc.get("sysctls"))):
        name = as_str(s.get("name"))
        if not name:
            errs.append(errors.required(child(index(child(path, "sysctls"), i), "name")))
        elif name in seen:
            errs.append(errors.duplicate(child(index(child(path, "sysctls"), i), "name"), name))
        seen.add(name)
    return errs


def validate_readiness_gates(gates: Any, path: str) -> Errs:
    errs: Errs = []
    for i, g in enumerate(dicts(gates)):
        errs += validate_qualified_name(as_str(g.get("conditionType")), child(index(path, i), "conditionType"))
    return errs


def validate_scheduling_gates(gates: Any, path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, g in enumerate(dicts(gates)):
        name = as_str(g.get("name"))
        errs += validate_qualified_name(name, index(path, i))
        if name in seen:
            errs.append(errors.duplicate(index(path, i), name))
        seen.add(name)
    return errs


def validate_image_pull_secrets(secrets: Any, path: str) -> Errs:
    errs: Errs = []
    for i, s in enumerate(dicts(secrets)):
        if set(s) - {"name"}:
            errs.append(errors.invalid_value(index(path, i), s, "only name may be set"))
    return errs
