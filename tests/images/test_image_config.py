"""What a container runs: Kubernetes' and Docker's argv rules, environment merging, and the config defaults."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.images import config as imgconfig
from kybernetes.images.config import NoCommand


def cfg(entrypoint: list[str] | None, cmd: list[str] | None) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if entrypoint is not None:
        section["Entrypoint"] = entrypoint
    if cmd is not None:
        section["Cmd"] = cmd
    return {"config": section}


EP = ["/entry", "-x"]
CMD = ["serve", "--port=80"]
MINE = ["/mine"]
ARGS = ["a", "b"]

# image (Entrypoint, Cmd) x pod (command, args) -> argv, or None for "no command specified".
# The table in the Kubernetes docs ("Define a Command and Arguments for a Container", notes) is rows 1-4 of each block.
KUBERNETES = [
    # image has both
    ("ep+cmd", EP, CMD, None, None, EP + CMD),
    ("ep+cmd/command", EP, CMD, MINE, None, MINE),
    ("ep+cmd/args", EP, CMD, None, ARGS, EP + ARGS),
    ("ep+cmd/command+args", EP, CMD, MINE, ARGS, MINE + ARGS),
    # image has only an entrypoint
    ("ep", EP, None, None, None, EP),
    ("ep/command", EP, None, MINE, None, MINE),
    ("ep/args", EP, None, None, ARGS, EP + ARGS),
    ("ep/command+args", EP, None, MINE, ARGS, MINE + ARGS),
    # image has only a cmd
    ("cmd", None, CMD, None, None, CMD),
    ("cmd/command", None, CMD, MINE, None, MINE),
    ("cmd/args", None, CMD, None, ARGS, ARGS),
    ("cmd/command+args", None, CMD, MINE, ARGS, MINE + ARGS),
    # image has neither
    ("none", None, None, None, None, None),
    ("none/command", None, None, MINE, None, MINE),
    ("none/args", None, None, None, ARGS, ARGS),
    ("none/command+args", None, None, MINE, ARGS, MINE + ARGS),
    # empty lists are the same as unset (the API omits them)
    ("ep+cmd/empty-command", EP, CMD, [], None, EP + CMD),
    ("ep+cmd/empty-args", EP, CMD, None, [], EP + CMD),
    ("empty-image-lists", [], [], None, None, None),
]


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "command", "args", "argv"),
    [pytest.param(*row[1:], id=row[0]) for row in KUBERNETES],
)
def test_kubernetes_argv(entrypoint: list[str] | None, cmd: list[str] | None, command: list[str] | None,
                         args: list[str] | None, argv: list[str] | None) -> None:
    if argv is None:
        with pytest.raises(NoCommand, match="no command specified"):
            imgconfig.kubernetes_argv(cfg(entrypoint, cmd), command, args)
    else:
        assert imgconfig.kubernetes_argv(cfg(entrypoint, cmd), command, args) == argv


# image (Entrypoint, Cmd) x docker run (--entrypoint, args after the image) -> argv.
DOCKER = [
    ("ep+cmd", EP, CMD, None, None, EP + CMD),
    ("ep+cmd/--entrypoint", EP, CMD, MINE, None, MINE),  # --entrypoint drops the image's CMD
    ("ep+cmd/args", EP, CMD, None, ARGS, EP + ARGS),
    ("ep+cmd/--entrypoint+args", EP, CMD, MINE, ARGS, MINE + ARGS),
    ("ep", EP, None, None, None, EP),
    ("ep/--entrypoint", EP, None, MINE, None, MINE),
    ("ep/args", EP, None, None, ARGS, EP + ARGS),
    ("cmd", None, CMD, None, None, CMD),
    ("cmd/--entrypoint", None, CMD, MINE, None, MINE),
    ("cmd/args", None, CMD, None, ARGS, ARGS),
    ("cmd/--entrypoint+args", None, CMD, MINE, ARGS, MINE + ARGS),
    ("none", None, None, None, None, None),
    ("none/args", None, None, None, ARGS, ARGS),
    ("none/--entrypoint", None, None, MINE, None, MINE),
    # --entrypoint "" resets the entrypoint: the arguments (never the image's CMD) are the command
    ("ep+cmd/reset-entrypoint+args", EP, CMD, [], ARGS, ARGS),
    ("ep+cmd/reset-entrypoint", EP, CMD, [], None, None),
    ("ep+cmd/empty-args", EP, CMD, None, [], EP + CMD),
]


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "override_entrypoint", "override_cmd", "argv"),
    [pytest.param(*row[1:], id=row[0]) for row in DOCKER],
)
def test_docker_argv(entrypoint: list[str] | None, cmd: list[str] | None, override_entrypoint: list[str] | None,
                     override_cmd: list[str] | None, argv: list[str] | None) -> None:
    if argv is None:
        with pytest.raises(NoCommand, match="no command specified"):
            imgconfig.docker_argv(cfg(entrypoint, cmd), override_entrypoint, override_cmd)
    else:
        assert imgconfig.docker_argv(cfg(entrypoint, cmd), override_entrypoint, override_cmd) == argv


@pytest.mark.parametrize("config", [{}, {"config": None}, {"config": {"Entrypoint": None, "Cmd": None}}],
                         ids=["no-section", "null-section", "null-fields"])
def test_argv_with_a_bare_config(config: dict[str, Any]) -> None:
    assert imgconfig.kubernetes_argv(config, None, ARGS) == ARGS
    assert imgconfig.docker_argv(config, None, ARGS) == ARGS
    with pytest.raises(NoCommand):
        imgconfig.kubernetes_argv(config, None, None)


def test_argv_does_not_alias_the_config() -> None:
    config = cfg(EP, CMD)
    imgconfig.kubernetes_argv(config, None, None).append("mutated")
    imgconfig.docker_argv(config, None, None).append("mutated")
    assert config == cfg(EP, CMD)


@pytest.mark.parametrize(
    ("image_env", "overrides", "merged"),
    [
        pytest.param([], [], [], id="empty"),
        pytest.param(["PATH=/bin", "A=1"], [], ["PATH=/bin", "A=1"], id="image-only"),
        pytest.param([], ["A=1"], ["A=1"], id="overrides-only"),
        pytest.param(["PATH=/bin", "A=1", "B=2"], ["A=9"], ["PATH=/bin", "A=9", "B=2"], id="replace-in-place"),
        pytest.param(["A=1"], ["C=3", "B=2"], ["A=1", "C=3", "B=2"], id="append-in-order"),
        pytest.param(["A=1"], ["A=2", "A=3"], ["A=3"], id="last-wins"),
        pytest.param(["A=x=y"], ["B=="], ["A=x=y", "B=="], id="equals-in-value"),
        pytest.param(["A=1"], ["A="], ["A="], id="empty-value"),
        pytest.param(["A=1"], ["A"], ["A="], id="no-equals-means-empty"),
        pytest.param(["a=1"], ["A=2"], ["a=1", "A=2"], id="case-sensitive"),
    ],
)
def test_merge_env(image_env: list[str], overrides: list[str], merged: list[str]) -> None:
    assert imgconfig.merge_env(image_env, overrides) == merged


FULL = {"config": {"Env": ["PATH=/usr/bin", "HOME=/root"], "WorkingDir": "/app", "User": "1000:1000",
                   "ExposedPorts": {"8080/tcp": {}, "53/udp": {}, "443/tcp": {}}}}


@pytest.mark.parametrize(
    ("func", "config", "override", "expected"),
    [
        pytest.param("image_env", FULL, None, ["PATH=/usr/bin", "HOME=/root"], id="env"),
        pytest.param("image_env", {}, None, [], id="env-default"),
        pytest.param("working_dir", FULL, "", "/app", id="workdir"),
        pytest.param("working_dir", FULL, "/override", "/override", id="workdir-override"),
        pytest.param("working_dir", {"config": {"WorkingDir": ""}}, "", "/", id="workdir-default"),
        pytest.param("user", FULL, "", "1000:1000", id="user"),
        pytest.param("user", FULL, "nobody", "nobody", id="user-override"),
        pytest.param("user", {}, "", "", id="user-default"),
        pytest.param("exposed_ports", FULL, None, ["443/tcp", "53/udp", "8080/tcp"], id="ports-sorted"),
        pytest.param("exposed_ports", {"config": {"ExposedPorts": None}}, None, [], id="ports-default"),
    ],
)
def test_config_fields(func: str, config: dict[str, Any], override: str | None, expected: Any) -> None:
    fn = getattr(imgconfig, func)
    assert (fn(config) if override is None else fn(config, override)) == expected
