"""Parsing of ``kyb run`` options that have a grammar: published ports, links, env, names (pure functions)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from kybernetes.runtime.api import PortMapping

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class OptionError(ValueError):
    pass


def parse_publish(spec: str) -> PortMapping:
    """``[IP:]HOSTPORT:CPORT[/PROTO]`` or ``CPORT[/PROTO]`` (host port chosen by the kernel: 0)."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise OptionError(f"invalid proto: {proto}")
    parts = body.rsplit(":", 2)
    ip, host, cport = "127.0.0.1", "", ""
    if len(parts) == 1:
        cport = parts[0]
    elif len(parts) == 2:
        host, cport = parts
    else:
        ip, host, cport = parts
        ip = ip.strip("[]") or "127.0.0.1"
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise OptionError(f"invalid IP address: {ip}") from None
    try:
        c = int(cport)
        h = int(host) if host else 0
    except ValueError:
        raise OptionError(f"invalid port specification: \"{spec}\"") from None
    if not 0 < c < 65536 or not 0 <= h < 65536:
        raise OptionError(f"invalid port specification: \"{spec}\"")
    return PortMapping(container_port=c, host_port=h, protocol=proto, host_ip=ip)


@dataclass
class Link:
    name: str
    alias: str


def parse_link(spec: str) -> Link:
    name, _, alias = spec.partition(":")
    name = name.lstrip("/")
    if not name:
        raise OptionError(f"invalid link format: {spec}")
    return Link(name, alias or name)


def parse_env(items: list[str], lookup: dict[str, str]) -> list[str]:
    """``-e K=V`` as is; ``-e K`` takes K from the caller's environment (dropped when unset), as Docker does."""
    out = []
    for item in items:
        if not item or item.startswith("="):
            raise OptionError(f"invalid environment variable: {item}")
        if "=" in item:
            out.append(item)
        elif item in lookup:
            out.append(f"{item}={lookup[item]}")
    return out


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise OptionError(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def check_workdir(workdir: str) -> None:
    if workdir and not workdir.startswith("/"):
        raise OptionError(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")


def link_env(alias: str, name: str, own_name: str, ip: str, exposed: list[str], env: list[str]) -> list[str]:
    """The legacy link variables Docker sets: ``ALIAS_NAME``, ``ALIAS_PORT_6379_TCP=tcp://ip:6379`` ..."""
    prefix = re.sub(r"[^A-Z0-9_]", "_", alias.upper())
    out = [f"{prefix}_NAME=/{own_name}/{alias}"]
    ports = sorted(exposed, key=lambda p: (int(p.split("/")[0]), p))
    for i, port in enumerate(ports):
        num, _, proto = port.partition("/")
        proto = proto or "tcp"
        base = f"{prefix}_PORT_{num}_{proto.upper()}"
        if i == 0:
            out.append(f"{prefix}_PORT={proto}://{ip}:{num}")
        out += [f"{base}={proto}://{ip}:{num}", f"{base}_ADDR={ip}", f"{base}_PORT={num}", f"{base}_PROTO={proto}"]
    for item in env:
        key, _, value = item.partition("=")
        if key not in ("HOME", "PATH", "HOSTNAME"):
            out.append(f"{prefix}_ENV_{key}={value}")
    return out
