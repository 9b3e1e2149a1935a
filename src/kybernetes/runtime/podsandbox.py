"""The parts of a runc pod sandbox on the host: namespace files, a shared /dev/shm, and its /etc files.

A sandbox has no process. Its namespaces are kept alive by bind mounts onto files in the sandbox directory, as
CRI-O's pinns does: ``unshare --net=FILE --ipc=FILE --uts=FILE`` creates them, mounts them on the files and runs
one command inside them, which sets the hostname and brings ``lo`` up. Containers then join them by path. With
host networking only an IPC namespace is made; network and UTS (hence hostname) are the host's, as in Kubernetes.
Tearing down unmounts the files (the namespaces die with their last user) and deletes them.

/dev/shm is a tmpfs mounted in the sandbox directory and bound into every container, so containers that share
an IPC namespace also share POSIX shared memory. /etc/hosts, /etc/resolv.conf and /etc/hostname are generated
files bound into every container; `etc_hosts` and `resolv_conf` are pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from .api import DNSConfig, RuntimeError_, SandboxConfig
from .mounts import MS_NODEV, MS_NOEXEC, MS_NOSUID, is_mount_point, mount, unmount_all

SHM_SIZE = "64m"


def sandbox_hostname(config: SandboxConfig) -> str:
    """The pod's hostname: at most 63 characters, not ending in '-' or '.' (the kubelet's rule)."""
    return (config.hostname or config.name)[:63].rstrip("-.") or "localhost"


async def run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        msg = (err or out).decode(errors="replace").strip().splitlines()
        raise RuntimeError_(f"{args[0]} failed: {msg[-1] if msg else f'exit status {proc.returncode}'}")
    return out.decode(errors="replace")


def namespace_files(sandbox_dir: Path, host_network: bool) -> dict[str, Path]:
    kinds = ["ipc"] if host_network else ["net", "ipc", "uts"]
    return {k: sandbox_dir / "ns" / k for k in kinds}


async def create_namespaces(sandbox_dir: Path, hostname: str, host_network: bool) -> dict[str, Path]:
    files = namespace_files(sandbox_dir, host_network)
    (sandbox_dir / "ns").mkdir(exist_ok=True)
    for f in files.values():
        f.touch()
    inside = ["true"] if host_network else ["sh", "-c", 'hostname "$1" && ip link set lo up', "sh", hostname]
    await run("unshare", *(f"--{k}={f}" for k, f in files.items()), *inside)
    return files


def remove_namespaces(sandbox_dir: Path) -> None:
    ns = sandbox_dir / "ns"
    if not ns.is_dir():
        return
    for f in ns.iterdir():
        unmount_all(f)
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    with contextlib.suppress(OSError):
        ns.rmdir()


def namespaces_alive(files: dict[str, Path]) -> bool:
    return all(is_mount_point(f) for f in files.values())


def mount_shm(sandbox_dir: Path) -> Path:
    shm = sandbox_dir / "shm"
    shm.mkdir(exist_ok=True)
    mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"mode=1777,size={SHM_SIZE}")
    return shm


def unmount_shm(sandbox_dir: Path) -> None:
    unmount_all(sandbox_dir / "shm")


def etc_hosts(ip: str, hostname: str, extra: list[tuple[str, list[str]]]) -> str:
    """The pod's /etc/hosts, in the kubelet's layout. No side effects."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
        f"{ip or '127.0.1.1'}\t{hostname}",
    ]
    if extra:
        lines.append("")
        lines.append("# Entries added by HostAliases.")
        lines.extend(f"{addr}\t{' '.join(names)}" for addr, names in extra)
    return "\n".join(lines) + "\n"


def resolv_conf(dns: DNSConfig | None, host_resolv: str) -> str:
    """The pod's /etc/resolv.conf: from the DNS config, else the host's. No side effects."""
    if dns is None or not (dns.servers or dns.searches or dns.options):
        return host_resolv
    lines = [f"nameserver {s}" for s in dns.servers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def write_etc_files(sandbox_dir: Path, config: SandboxConfig, ip: str, hostname: str) -> dict[str, Path]:
    try:
        host_resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        host_resolv = ""
    if config.host_network:
        hostname = os.uname().nodename
    files = {
        "hosts": sandbox_dir / "hosts",
        "resolv": sandbox_dir / "resolv.conf",
        "hostname": sandbox_dir / "hostname",
    }
    files["hosts"].write_text(etc_hosts(ip, hostname, config.hosts))
    files["resolv"].write_text(resolv_conf(config.dns, host_resolv))
    files["hostname"].write_text(hostname + "\n")
    for f in files.values():
        f.chmod(0o644)
    return files
