"""The real kubectl (SPDY in 1.27-1.29, WebSocket first from 1.30) against our exec endpoint."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.kubectl_bins import find_kubectls
from tests.streaming.fake_exec import PROTOCOLS, REQUESTS, make_app

pytestmark = pytest.mark.kubectl

KUBECTLS = find_kubectls()
VERSIONS = [v for v in ("1.27", "1.29", "1.30", "1.31", "1.33") if v in KUBECTLS]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[web.Application, Path]]:
    app = make_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: ns}}}}]
current-context: x
""")
    yield app, kubeconfig
    await runner.cleanup()


async def kubectl(version: str, kubeconfig: Path, *args: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        KUBECTLS[version], "--kubeconfig", str(kubeconfig), "--cache-dir", str(kubeconfig.parent / "cache"),
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out, err


@pytest.mark.skipif(not VERSIONS, reason="no kubectl binary")
@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_exit_code(server: tuple[web.Application, Path], version: str) -> None:
    app, kubeconfig = server
    code, out, err = await kubectl(version, kubeconfig, "exec", "p", "--", "sh", "-c", "exit 3")
    assert code == 3, (out, err, app[REQUESTS])
    assert app[PROTOCOLS], app[REQUESTS]
    assert b"command terminated with exit code 3" in err


@pytest.mark.skipif(not VERSIONS, reason="no kubectl binary")
@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_stdin_echo(server: tuple[web.Application, Path], version: str) -> None:
    app, kubeconfig = server
    code, out, err = await kubectl(version, kubeconfig, "exec", "-i", "p", "--", "cat", stdin=b"hi\n")
    assert (code, out) == (0, b"hi\n"), (err, app[REQUESTS])
    expected = "v4.channel.k8s.io" if version < "1.30" else "v5.channel.k8s.io"
    assert app[PROTOCOLS] == [expected]


@pytest.mark.skipif(not VERSIONS, reason="no kubectl binary")
@pytest.mark.parametrize("version", VERSIONS)
async def test_port_forward_echo(server: tuple[web.Application, Path], version: str) -> None:
    app, kubeconfig = server
    proc = await asyncio.create_subprocess_exec(
        KUBECTLS[version], "--kubeconfig", str(kubeconfig), "--cache-dir", str(kubeconfig.parent / "cache"),
        "port-forward", "--address", "127.0.0.1", "pod/p", ":80",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"Forwarding from 127.0.0.1:"), line
        local = int(line.split(b":")[1].split()[0])
        for round_ in range(2):  # two connections: two stream pairs, requestID 0 and 1
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
            writer.write(b"ping %d" % round_)
            await writer.drain()
            assert await asyncio.wait_for(reader.readexactly(6), 10) == b"ping %d" % round_
            writer.close()
            await writer.wait_closed()
        expected = "portforward.k8s.io" if version < "1.31" else "SPDY/3.1+portforward.k8s.io"
        assert app[PROTOCOLS] == [expected], app[REQUESTS]
    finally:
        proc.terminate()
        await proc.wait()


def _drain_pty(master: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every slave end is closed
            return out
        if not chunk:
            return out
        out += chunk


@pytest.mark.skipif(not VERSIONS, reason="no kubectl binary")
@pytest.mark.parametrize("version", VERSIONS)
async def test_exec_tty_sends_terminal_size(server: tuple[web.Application, Path], version: str) -> None:
    """``kubectl exec -it`` on a terminal of 33x111 reports that size on the resize stream/channel."""
    app, kubeconfig = server
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    try:
        proc = await asyncio.create_subprocess_exec(
            KUBECTLS[version], "--kubeconfig", str(kubeconfig), "--cache-dir", str(kubeconfig.parent / "cache"),
            "exec", "-it", "p", "--", "stty", "size", stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True)
    finally:
        os.close(slave)
    reading = asyncio.get_running_loop().run_in_executor(None, _drain_pty, master)
    try:
        code = await asyncio.wait_for(proc.wait(), 30)
        output = await asyncio.wait_for(reading, 10)
    finally:
        os.close(master)
    assert code == 0, (output, app[REQUESTS])
    assert b"33 111" in output
    assert app[REQUESTS][0][2]["tty"] == "true"
