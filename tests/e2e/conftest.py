"""Fixtures of the ``kyb up`` suites: one cluster per test module (`upcluster.Up`) and kubectl runners for it.

``kubectl`` runs each test with kubectl 1.27 and 1.33 (where the client matters); ``kubectl_latest`` once, with
the newest kubectl (where it does not). A module that defines its own ``kubectl`` fixture (test_cluster_kubectl,
against ``kyb server`` with simulated nodes) overrides this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Kubectl
from tests.e2e.upcluster import Up


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """A ``kyb up`` cluster for the module; stopped (SIGTERM) at its end, which must leave nothing behind."""
    u = Up(tmp_path_factory.mktemp("up"))
    try:
        yield u
    finally:
        u.stop()
        left = u.leftovers()
        u.scrub()
        assert u.proc.returncode == 0, f"kyb up exited with {u.proc.returncode}:\n{u.log_tail()}"
        assert left == [], f"kyb up left {left}"


@pytest.fixture(params=["1.27", "1.33"], ids=lambda v: f"kubectl-{v}")
def kubectl(request: pytest.FixtureRequest, up: Up, kubectls: dict[str, str], tmp_path: Path) -> Kubectl:
    if request.param not in kubectls:
        pytest.skip(f"kubectl {request.param} is not available")
    return Kubectl(kubectls[request.param], request.param, up.kubeconfig, tmp_path)


@pytest.fixture(scope="module")
def kubectl_latest(up: Up, kubectls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    version = max(kubectls, key=lambda v: tuple(int(x) for x in v.split(".")))
    return Kubectl(kubectls[version], version, up.kubeconfig, tmp_path_factory.mktemp(f"home-{version}"))
