"""The OCI runtime spec (``config.json``) runc receives for a container. Pure: no I/O, table-tested.

What a container gets, following Docker's and containerd's defaults:

* namespaces: its own PID and mount namespaces; the sandbox's network, IPC and UTS namespaces joined by path
  (the bind-mounted files of `namespaces`); with host networking no network or UTS entry, so the host's apply;
* mounts: /proc, a tmpfs /dev with /dev/pts and /dev/mqueue, the sandbox's /dev/shm (shared by its containers,
  like their IPC namespace), /sys and /sys/fs/cgroup read-only, the sandbox's /etc/hosts, /etc/resolv.conf and
  /etc/hostname, then the container's own mounts (which replace a default at the same destination);
* process: argv, env (with ``PATH``, ``HOSTNAME``, ``HOME`` and, for a TTY, ``TERM`` added when missing), cwd,
  uid/gid/supplementary groups, Docker's default capability set, ``noNewPrivileges``, ``RLIMIT_NOFILE`` 1048576;
* masked and read-only paths as runc's and Docker's defaults;
* ``cgroupsPath`` and resources (CPU shares/quota/period, memory limit, pids limit; all devices denied but the
  ones runc always allows).

``privileged`` lifts the capability bounding set to everything, unmasks paths, allows all devices and mounts
/sys read-write. `process_spec` is also what ``runc exec --process`` gets, so an exec runs as the container does.

A container cannot get more than the runtime has: `HostLimits` (read once by `host_limits`, the only I/O here)
caps the capability sets at the runtime's own bounding set and ``RLIMIT_NOFILE`` at its hard limit when it
lacks ``CAP_SYS_RESOURCE`` to raise it (as in some sandboxed hosts).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from typing import Any

from .api import ContainerConfig
from .users import User

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOFILE = 1048576

DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
ALL_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@dataclass
class HostLimits:
    nofile: int = NOFILE
    capabilities: frozenset[str] = field(default_factory=lambda: frozenset(ALL_CAPABILITIES))


def host_limits() -> HostLimits:
    """What this process may hand on: its capability bounding set, and the file limit it can set."""
    bounding = (1 << 64) - 1
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bounding = int(line.split()[1], 16)
    caps = frozenset(c for i, c in enumerate(ALL_CAPABILITIES) if bounding >> i & 1)
    nofile = NOFILE
    if "CAP_SYS_RESOURCE" not in caps:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = min(NOFILE, hard) if hard != resource.RLIM_INFINITY else NOFILE
    return HostLimits(nofile, caps)


@dataclass
class SandboxView:
    """What a container takes from its sandbox."""

    hostname: str
    netns: str | None  # a namespace file, or None for the host's
    ipcns: str | None
    utsns: str | None
    hosts_file: str
    resolv_file: str
    hostname_file: str
    shm_dir: str | None


def merged_env(config: ContainerConfig, user: User, hostname: str) -> list[str]:
    env = list(config.env)
    keys = {kv.partition("=")[0] for kv in env}
    defaults = [("PATH", DEFAULT_PATH), ("HOSTNAME", hostname), ("HOME", user.home)]
    if config.tty:
        defaults.append(("TERM", "xterm"))
    return [f"{k}={v}" for k, v in defaults if k not in keys] + env


def process_spec(config: ContainerConfig, user: User, hostname: str, args: list[str], cwd: str,
                 terminal: bool, limits: HostLimits) -> dict[str, Any]:
    wanted = ALL_CAPABILITIES if config.privileged else DEFAULT_CAPABILITIES
    caps = [c for c in wanted if c in limits.capabilities]
    return {
        "terminal": terminal,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": list(user.additional_gids)},
        "args": list(args),
        "env": merged_env(config, user, hostname),
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": limits.nofile, "soft": limits.nofile}],
        "noNewPrivileges": not config.privileged,
    }


def _mounts(config: ContainerConfig, sandbox: SandboxView) -> list[dict[str, Any]]:
    ro_sys = [] if config.privileged else ["ro"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev",
                                                                                 *ro_sys]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *ro_sys]},
    ]
    if sandbox.shm_dir:
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": sandbox.shm_dir,
                       "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"]})
    else:
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]})
    for dest, src in (("/etc/hosts", sandbox.hosts_file), ("/etc/resolv.conf", sandbox.resolv_file),
                      ("/etc/hostname", sandbox.hostname_file)):
        mounts.append({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]})
    own = {m.container_path.rstrip("/") or "/" for m in config.mounts}
    mounts = [m for m in mounts if m["destination"] not in own]
    for m in config.mounts:
        ro = ["ro"] if m.readonly else []
        if m.kind == "tmpfs":
            mounts.append({"destination": m.container_path, "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "mode=1777", *ro]})
        else:
            mounts.append({"destination": m.container_path, "type": "bind", "source": m.host_path,
                           "options": ["rbind", "rprivate", *ro]})
    return mounts


def _resources(config: ContainerConfig) -> dict[str, Any]:
    r = config.resources
    out: dict[str, Any] = {"devices": [{"allow": config.privileged, "access": "rwm"}]}
    cpu: dict[str, int] = {}
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.cpu_quota:
        cpu["quota"] = r.cpu_quota
        cpu["period"] = r.cpu_period or 100000
    elif r.cpu_period:
        cpu["period"] = r.cpu_period
    if cpu:
        out["cpu"] = cpu
    if r.memory_limit_bytes:
        out["memory"] = {"limit": r.memory_limit_bytes}
    if r.pids_limit:
        out["pids"] = {"limit": r.pids_limit}
    return out


def build_spec(config: ContainerConfig, user: User, sandbox: SandboxView, cgroups_path: str,
               cwd: str, limits: HostLimits) -> dict[str, Any]:
    namespaces: list[dict[str, str]] = [{"type": "pid"}, {"type": "mount"}]
    for kind, path in (("network", sandbox.netns), ("ipc", sandbox.ipcns), ("uts", sandbox.utsns)):
        if path:
            namespaces.append({"type": kind, "path": path})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": _resources(config),
    }
    if not config.privileged:
        linux["maskedPaths"] = MASKED_PATHS
        linux["readonlyPaths"] = READONLY_PATHS
    return {
        "ociVersion": "1.0.2-dev",
        "process": process_spec(config, user, sandbox.hostname, config.command, cwd, config.tty, limits),
        "root": {"path": "rootfs", "readonly": config.readonly_rootfs},
        "mounts": _mounts(config, sandbox),
        "linux": linux,
    }
