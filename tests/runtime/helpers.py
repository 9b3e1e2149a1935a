"""Waiting helpers for the runtime suites (state changes and log lines are asynchronous)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kybernetes.runtime.api import ContainerState, ContainerStatus
from kybernetes.runtime.logs import read_log


async def wait_state(rt: Any, cid: str, state: ContainerState, timeout: float = 10.0) -> ContainerStatus:
    deadline = time.monotonic() + timeout
    while True:
        st: ContainerStatus = await rt.container_status(cid)
        if st.state is state:
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"container stayed {st.state.value}, wanted {state.value}: {st}")
        await asyncio.sleep(0.02)


async def log_text(path: str | Path, stream: str | None = None) -> str:
    return "".join([r.data.decode() async for r in read_log(path, stream=stream)])


async def wait_log(path: str | Path, needle: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = await log_text(path) if Path(path).exists() else ""
        if needle in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never appeared in the log; it has: {text!r}")
        await asyncio.sleep(0.02)


async def run_to_exit(rt: Any, sandbox_id: str, config: Any, timeout: float = 10.0) -> ContainerStatus:
    cid = await rt.create_container(sandbox_id, config)
    await rt.start_container(cid)
    return await wait_state(rt, cid, ContainerState.EXITED, timeout)
