"""The API server's listening address: parsing ``--listen``, binding early, the URL clients use.

Standard library only, so ``kyb up`` can bind its port and hand the URL to the node agent's process before it
imports the server (the two start in parallel; the agent's first requests wait in the socket's backlog).
"""

from __future__ import annotations

import ipaddress
import socket


class ConfigError(Exception):
    """A bad setting: reported as one line and a non-zero exit."""


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, "6443"
    host = host.strip("[]") or "127.0.0.1"
    try:
        p = int(port)
        if not 0 <= p <= 65535:
            raise ValueError
    except ValueError:
        raise ConfigError(f"invalid --listen {value!r}: the port must be a number from 0 to 65535") from None
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"invalid --listen {value!r}: give an IP address such as 127.0.0.1") from None
    if not ip.is_loopback:
        raise ConfigError(f"refusing to listen on {host}: without authentication and TLS the API server "
                          "serves only loopback addresses (127.0.0.0/8, ::1)")
    return host, p


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port: clients that connect before the server runs wait in its backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


