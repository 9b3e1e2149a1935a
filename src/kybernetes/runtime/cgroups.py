"""Reading and removing a container's cgroups (runc creates them; we read stats and clean up).

A cgroup path such as ``/kyb/<sandbox>/<container>`` names one directory in every mounted hierarchy: with
cgroup v1 one per controller (``/sys/fs/cgroup/memory/kyb/...``), with v2 a single one. `Hierarchies` finds the
mounts once from ``/proc/self/mountinfo`` and answers both layouts:

* stats: CPU from ``cpuacct.usage`` (v1) or ``cpu.stat`` ``usage_usec`` (v2); memory usage from
  ``memory.usage_in_bytes`` / ``memory.current``; the working set is usage minus inactive file pages, as the
  kubelet computes it;
* OOM: the file whose ``oom_kill N`` line counts kills (``memory.oom_control`` in v1, ``memory.events`` in v2),
  handed to the shim, which reads it when the container's init exits;
* removal: `remove_tree` kills whatever still runs in a cgroup below the path and removes the directories
  bottom-up, in every hierarchy (the cleanup path for tests and for sandboxes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def _read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _read_keyed(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    except (OSError, ValueError):
        pass
    return 0


class Hierarchies:
    def __init__(self) -> None:
        self.by_controller: dict[str, Path] = {}
        self.mount_points: list[Path] = []
        self.unified: Path | None = None  # the v2 hierarchy when it carries the controllers
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fstype, _, options = right.split()[:3]
                point = Path(left.split()[4])
                if fstype == "cgroup":
                    self.mount_points.append(point)
                    for opt in options.split(","):
                        if opt in ("rw", "ro") or "=" in opt:
                            continue
                        self.by_controller[opt] = point
                elif fstype == "cgroup2":
                    self.mount_points.append(point)
                    if (point / "cgroup.controllers").exists() and (point / "cgroup.controllers").read_text():
                        self.unified = point
        self.v1 = "memory" in self.by_controller

    def dir(self, controller: str, cgroup_path: str) -> Path:
        base = self.by_controller.get(controller) if self.v1 else self.unified
        if base is None:
            base = Path("/sys/fs/cgroup")
        return base / cgroup_path.lstrip("/")

    def oom_counter_file(self, cgroup_path: str) -> str:
        if self.v1:
            return str(self.dir("memory", cgroup_path) / "memory.oom_control")
        return str(self.dir("memory", cgroup_path) / "memory.events")

    def stats(self, cgroup_path: str) -> tuple[int, int, int]:
        """(cpu usage ns, memory usage bytes, memory working set bytes); zeros for a missing cgroup."""
        mem = self.dir("memory", cgroup_path)
        if self.v1:
            cpu = _read_int(self.dir("cpuacct", cgroup_path) / "cpuacct.usage")
            usage = _read_int(mem / "memory.usage_in_bytes")
            inactive = _read_keyed(mem / "memory.stat", "total_inactive_file")
        else:
            cpu = _read_keyed(self.dir("cpu", cgroup_path) / "cpu.stat", "usage_usec") * 1000
            usage = _read_int(mem / "memory.current")
            inactive = _read_keyed(mem / "memory.stat", "inactive_file")
        return cpu, usage, max(0, usage - inactive)

    def dirs(self, cgroup_path: str) -> list[Path]:
        return [mp / cgroup_path.lstrip("/") for mp in self.mount_points]

    def remove_tree(self, cgroup_path: str, timeout: float = 5.0) -> list[Path]:
        """Kill every process below ``cgroup_path`` and remove its directories; return those that stayed."""
        if cgroup_path.strip("/") == "":
            raise ValueError("refusing to remove the root cgroup")
        left: list[Path] = []
        for top in self.dirs(cgroup_path):
            if not top.is_dir():
                continue
            deadline = time.monotonic() + timeout
            for parent, _, _ in os.walk(top, topdown=False):
                while True:
                    pids = [int(p) for p in _lines(Path(parent) / "cgroup.procs")]
                    for pid in pids:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    try:
                        os.rmdir(parent)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            left.append(Path(parent))
                            break
                        time.sleep(0.01)
        return left

    def remove_if_empty(self, cgroup_path: str) -> None:
        if cgroup_path.strip("/") == "":
            return
        for d in self.dirs(cgroup_path):
            with contextlib.suppress(OSError):
                os.rmdir(d)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []
