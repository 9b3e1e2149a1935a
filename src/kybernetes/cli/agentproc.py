"""``kyb up``'s node agent as a child process, supervised.

The agent talks to the API server only over HTTP, so it can run anywhere; ``kyb up`` runs it as a second process
(``kyb agent --server URL --cleanup-on-exit ...``) for two reasons: the control plane and the agent then use
both cores instead of sharing one interpreter lock, and the agent can die (``kill -9``) and come back without
the control plane noticing more than a missed heartbeat — it adopts its running containers, as a kubelet does.

* The child runs in its own session (a terminal's Ctrl-C reaches only ``kyb up``, which then stops it in order)
  and with ``KYB_AGENT_PARENT`` set: it asks the kernel for SIGHUP when ``kyb up`` dies and exits *without*
  touching its containers then, so a ``kyb up`` killed with ``kill -9`` and started again finds its pods still
  running.
* When the child exits on its own it is started again after a back-off (1 s doubling to 30 s, reset after a
  minute of running).
* When ``kyb up`` stops, the child gets SIGTERM and, with ``--cleanup-on-exit``, stops every container and removes
  the pod network before it exits; after `STOP_TIMEOUT` it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("kybernetes.up")

STOP_TIMEOUT = 90.0
PARENT_ENV = "KYB_AGENT_PARENT"


def agent_argv(url: str, flags: list[str]) -> list[str]:
    return [sys.executable, "-m", "kybernetes", "agent", "--server", url, "--cleanup-on-exit", *flags]


def start(url: str, flags: list[str]) -> subprocess.Popen[bytes]:
    """Start the agent child (``kyb up`` does this before it imports the server, so both start at once)."""
    return subprocess.Popen(agent_argv(url, flags), stdin=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, PARENT_ENV: str(os.getpid())})


async def supervise(url: str, flags: list[str], first: subprocess.Popen[bytes] | None = None) -> None:
    """Keep the agent child running until cancelled; then stop it (SIGTERM, then SIGKILL)."""
    delay = 1.0
    proc = first
    while True:
        started = time.monotonic()
        if proc is None:
            proc = start(url, flags)
        try:
            code = await asyncio.shield(asyncio.to_thread(proc.wait))
        except asyncio.CancelledError:
            await _stop(proc)
            raise
        if time.monotonic() - started > 60:
            delay = 1.0
        log.warning("node agent (pid %d) exited with %s; starting it again in %.0fs", proc.pid, code, delay)
        proc = None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.error("node agent (pid %d) did not stop within %.0fs; killing it", proc.pid, STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.to_thread(proc.wait)


def stop_now(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child outside the event loop (SIGTERM, then SIGKILL after `STOP_TIMEOUT`)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def die_with_parent() -> bool:
    """In the child: SIGHUP when ``kyb up`` dies. False when it is already gone (then exit at once)."""
    expected = os.environ.pop(PARENT_ENV, "")
    if not expected:
        return True
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(signal.SIGHUP), 0, 0, 0)  # PR_SET_PDEATHSIG
    return os.getppid() == int(expected)
