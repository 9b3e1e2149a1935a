"""The in-tree plugins, one module each; the registry (plugin name -> factory) and profiles.

A factory is ``new(args, handle) -> plugin``; ``args`` are the plugin's
arguments from the profile (upstream's ``pluginConfig``), ``handle`` the
framework :class:`~kybernetes.scheduler.framework.Handle` (``None`` in unit
tests that need no cluster view).  :data:`DEFAULT_PLUGINS` is upstream's
default profile restricted to the plugins implemented here, in upstream's
order (which decides which filter reports a node first) with upstream's score
weights.

A :class:`Profile` is a list of ``(plugin name, score weight)`` in execution
order plus optional per-plugin arguments; :func:`build_framework` instantiates
the plugins through their factories.  An out-of-tree plugin is one more entry
in the registry passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes.scheduler.framework import Framework, Handle, Plugin
from kybernetes.scheduler.plugins import (
    balancedallocation,
    defaultbinder,
    defaultpreemption,
    interpodaffinity,
    nodeaffinity,
    nodename,
    nodeports,
    noderesources,
    nodeunschedulable,
    podtopologyspread,
    schedulinggates,
    tainttoleration,
)

Factory = Callable[[dict[str, Any], Any], Plugin]

REGISTRY: dict[str, Factory] = {
    "SchedulingGates": schedulinggates.new,
    "NodeUnschedulable": nodeunschedulable.new,
    "NodeName": nodename.new,
    "TaintToleration": tainttoleration.new,
    "NodeAffinity": nodeaffinity.new,
    "NodePorts": nodeports.new,
    "NodeResourcesFit": noderesources.new,
    "PodTopologySpread": podtopologyspread.new,
    "InterPodAffinity": interpodaffinity.new,
    "DefaultPreemption": defaultpreemption.new,
    "NodeResourcesBalancedAllocation": balancedallocation.new,
    "DefaultBinder": defaultbinder.new,
}

# (name, score weight) in upstream's default order.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("SchedulingGates", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("DefaultBinder", 0),
)


@dataclass
class Profile:
    scheduler_name: str = "default-scheduler"
    plugins: Sequence[tuple[str, int]] = DEFAULT_PLUGINS
    plugin_args: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int = 0  # 0: adaptive, as upstream


def build_framework(handle: Handle | None, profile: Profile | None = None,
                    registry: Mapping[str, Factory] | None = None) -> Framework:
    profile = profile or Profile()
    registry = REGISTRY if registry is None else registry
    plugins = []
    weights: dict[str, int] = {}
    for name, weight in profile.plugins:
        factory = registry.get(name)
        if factory is None:
            raise ValueError(f"plugin {name!r} is not in the registry")
        plugins.append(factory(dict(profile.plugin_args.get(name) or {}), handle))
        weights[name] = weight
    return Framework(plugins, weights)
