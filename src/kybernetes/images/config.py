"""What a container runs, from its image config and the caller's overrides (pure functions).

Two sets of rules, both upstream's:

* Kubernetes (`kubernetes_argv`): ``command`` replaces the image's ENTRYPOINT *and* drops its CMD; ``args``
  replaces CMD; with neither, ENTRYPOINT + CMD.
* Docker (`docker_argv`): ``--entrypoint`` replaces ENTRYPOINT and drops CMD; arguments after the image name
  replace CMD.

Environment: the image's variables first, then the caller's, a later key replacing an earlier one in place.
"""

from __future__ import annotations

from typing import Any


class NoCommand(ValueError):
    pass


def _image_cfg(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("config") or {}


def kubernetes_argv(config: dict[str, Any], command: list[str] | None, args: list[str] | None) -> list[str]:
    cfg = _image_cfg(config)
    entrypoint = list(cfg.get("Entrypoint") or [])
    cmd = list(cfg.get("Cmd") or [])
    if command:
        argv = list(command) + list(args or [])
    elif args:
        argv = entrypoint + list(args)
    else:
        argv = entrypoint + cmd
    if not argv:
        raise NoCommand("no command specified")
    return argv


def docker_argv(config: dict[str, Any], entrypoint: list[str] | None, cmd: list[str] | None) -> list[str]:
    cfg = _image_cfg(config)
    if entrypoint is not None:
        argv = list(entrypoint) + list(cmd or [])
    else:
        argv = list(cfg.get("Entrypoint") or []) + (list(cmd) if cmd else list(cfg.get("Cmd") or []))
    if not argv:
        raise NoCommand("no command specified")
    return argv


def merge_env(image_env: list[str], overrides: list[str]) -> list[str]:
    """``K=V`` lists: overrides replace same-named image variables in place, new ones are appended."""
    order: list[str] = []
    values: dict[str, str] = {}
    for item in [*image_env, *overrides]:
        key, sep, value = item.partition("=")
        if key not in values:
            order.append(key)
        values[key] = value if sep else ""
    return [f"{k}={values[k]}" for k in order]


def image_env(config: dict[str, Any]) -> list[str]:
    return list(_image_cfg(config).get("Env") or [])


def working_dir(config: dict[str, Any], override: str = "") -> str:
    return override or _image_cfg(config).get("WorkingDir") or "/"


def user(config: dict[str, Any], override: str = "") -> str:
    return override or _image_cfg(config).get("User") or ""


def exposed_ports(config: dict[str, Any]) -> list[str]:
    return sorted(_image_cfg(config).get("ExposedPorts") or {})
