"""Values Docker parses inside instructions: Go durations, EXPOSE ports, stop signals.

Each function reproduces the accepting set and the error text of the Go code
Docker runs (``time.ParseDuration``, the EXPOSE port-spec parser, the Linux
signal-name table).  Pure: no I/O.
"""

from __future__ import annotations

import ipaddress

from kybernetes.images.dockerfile_words import WordError, go_quote

__all__ = ["go_atoi", "is_valid_signal", "parse_go_duration", "parse_port"]

_SIGNALS = frozenset(
    [
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE",
        "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU",
        "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
    ]
    + [f"RTMIN+{i}" for i in range(1, 16)]
    + [f"RTMAX-{i}" for i in range(1, 15)]
)


def go_atoi(text: str) -> int | None:
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def is_valid_signal(signal: str) -> bool:
    number = go_atoi(signal)
    if number is not None:
        return number != 0
    name = signal.upper()
    return (name[3:] if name.startswith("SIG") else name) in _SIGNALS


# --- Go durations ----------------------------------------------------------------------------------------

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_INT64 = (1 << 63) - 1


def _leading_int(s: str) -> tuple[int, str, bool]:
    i = 0
    x = 0
    overflow = False
    while i < len(s) and "0" <= s[i] <= "9":
        x = x * 10 + int(s[i])
        if x > _MAX_INT64 + 1:
            overflow = True
        i += 1
    return x, s[i:], overflow


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration``: ``"1h30m"``, ``"1.5s"``, ``"300ms"`` -> nanoseconds."""
    orig = text
    invalid = WordError(f"time: invalid duration {go_quote(orig)}")
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        before = len(s)
        whole, s, overflow = _leading_int(s)
        if overflow:
            raise invalid
        pre = len(s) != before
        frac, scale, post = 0, 1.0, False
        if s.startswith("."):
            s = s[1:]
            before = len(s)
            i = 0
            capped = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not capped:
                    if frac > (_MAX_INT64 - 9) // 10:
                        capped = True  # further digits cannot change the value
                    else:
                        frac = frac * 10 + int(s[i])
                        scale *= 10
                i += 1
            s = s[i:]
            post = len(s) != before
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise WordError(f"time: missing unit in duration {go_quote(orig)}")
        unit_name, s = s[:i], s[i:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise WordError(f"time: unknown unit {go_quote(unit_name)} in duration {go_quote(orig)}")
        if whole > (1 << 63) // unit:
            raise invalid
        value = whole * unit
        if frac:
            value += int(float(frac) * (float(unit) / scale))
            if value > 1 << 63:
                raise invalid
        total += value
        if total > 1 << 63:
            raise invalid
    if negative:
        return -total
    if total > _MAX_INT64:
        raise invalid
    return total


# --- EXPOSE ----------------------------------------------------------------------------------------------------


def _port_number(text: str) -> int:
    if text == "":
        raise WordError("value is empty")
    if go_atoi(text) is None:
        raise WordError("invalid syntax")
    port = int(text)
    if not 0 <= port <= 65535:
        raise WordError("value out of range (0\u201365535)")
    return port


def _port_range(text: str) -> tuple[int, int]:
    if text == "":
        raise WordError("empty string specified for ports")
    start, dash, end = text.partition("-")
    first = _port_number(start)
    if not dash or start == end:
        return first, first
    last = _port_number(end)
    if last < first:
        raise WordError("invalid port range: " + text)
    return first, last


def parse_port(raw: str) -> list[str]:
    """``[ip:][host:]port[-port][/proto]`` -> ``["port/proto", ...]`` (Docker accepts, and lints, the ip/host parts)."""
    parts = raw.split(":")
    ip, host, container = "", "", parts[-1]
    if len(parts) == 2:
        host = parts[0]
    elif len(parts) >= 3:
        ip, host = ":".join(parts[:-2]), parts[-2]
    port, _, proto = container.partition("/")
    if port == "":
        raise WordError(f"invalid port: {go_quote(raw)}: no port specified")
    if proto.lower() not in ("", "tcp", "udp", "sctp"):
        raise WordError(f"invalid port: {go_quote(raw)}: invalid proto: {proto}")
    proto = proto.lower() or "tcp"
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise WordError("invalid IP address: " + ip) from None
    try:
        first, last = _port_range(port)
    except WordError:
        raise WordError("invalid containerPort: " + port) from None
    if host:
        try:
            host_first, host_last = _port_range(host)
        except WordError:
            raise WordError("invalid hostPort: " + host) from None
        if last - first != host_last - host_first and last != first:
            raise WordError(f"invalid ranges specified for container and host Ports: {port} and {host}")
    return [f"{p}/{proto}" for p in range(first, last + 1)]
