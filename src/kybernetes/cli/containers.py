"""``kyb run | ps | logs | exec | stop | rm``: standalone containers (the `engine`), Docker's workflow and wording.

Each command opens the `Engine` over the data dir, does one thing and exits; containers live on in their shims.
``kyb run`` without ``-d`` streams the container's output and exits with its exit code, as ``docker run`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .common import add_data_dir
from .humanize import human_duration, table

if TYPE_CHECKING:
    from kybernetes.engine.engine import Engine
    from kybernetes.engine.records import Record
    from kybernetes.runtime.api import ContainerStatus


def _engine(args: argparse.Namespace) -> Engine:
    from pathlib import Path

    from kybernetes.engine.engine import Engine

    return Engine(Path(args.data_dir), runtime=getattr(args, "runtime", "") or "")


def _run_cmd(args: argparse.Namespace, body: Callable[[Engine], Coroutine[Any, Any, int]]) -> int:
    """Open the engine and run ``body``; engine and runtime errors become one line and exit 1 (125 for run)."""
    from kybernetes.engine.engine import EngineError
    from kybernetes.runtime.api import RuntimeError_

    from .main import run_async

    result: list[int] = [0]

    async def main() -> None:
        result[0] = await body(_engine(args))

    try:
        run_async(main())
    except (EngineError, RuntimeError_) as e:
        message = str(e)
        print(message if message.startswith("Error response") else f"error: {message}", file=sys.stderr)
        return _failed_run_code(message) if args.command == "run" else 1
    except KeyboardInterrupt:
        return 130
    return result[0]


def _failed_run_code(message: str) -> int:
    """Docker's exit codes for a ``run`` that failed: 127 when the command cannot be found, 126 when it cannot
    be executed, 125 for every other failure."""
    if "exec:" in message and ("executable file not found" in message or "no such file or directory" in message):
        return 127
    if "exec:" in message and "permission denied" in message:
        return 126
    return 125


def _parse_memory(text: str) -> int:
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    t = text.strip().lower()
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


async def _follow(eng: Engine, rec: Record, follow: bool, tail: int | None = None, timestamps: bool = False,
                  since: float | None = None) -> None:
    from kybernetes.runtime.logs import read_log

    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    stop = asyncio.Event()

    async def watch_exit() -> None:
        await eng.wait(rec)
        stop.set()

    watcher = asyncio.ensure_future(watch_exit()) if follow else None
    try:
        async for entry in read_log(rec.log_path, follow=follow, tail=tail, since=since, timestamps=timestamps,
                                    follow_until=stop.is_set):
            stream = out.get(entry.stream, sys.stdout.buffer)
            stream.write(entry.data)
            stream.flush()
    finally:
        if watcher is not None:
            watcher.cancel()


def _run(args: argparse.Namespace) -> int:
    from kybernetes.runtime.api import RuntimeError_

    try:
        memory = _parse_memory(args.memory) if args.memory else 0
    except ValueError:
        print(f"error: invalid argument \"{args.memory}\" for \"-m, --memory\" flag: invalid size: '{args.memory}'",
              file=sys.stderr)
        return 125

    async def body(eng: Engine) -> int:
        rec = await eng.run(
            args.image, args.cmd, name=args.name or "", env=args.env, publish=args.publish, links=args.link,
            entrypoint=shlex.split(args.entrypoint) if args.entrypoint is not None else None, workdir=args.workdir or "",
            user=args.user or "", auto_remove=args.rm, memory=memory,
            progress=lambda line: print(line, file=sys.stderr))
        if args.detach:
            print(rec.id)
            return 0
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Future[None]] = []

        def interrupt() -> None:
            if not stopping:
                stopping.append(asyncio.ensure_future(eng.stop(rec, 10)))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        await _follow(eng, rec, follow=True)
        status = await eng.wait(rec)
        if args.rm:
            await eng.remove(rec, force=True)
        else:
            with contextlib.suppress(RuntimeError_, OSError):  # best effort: the next run releases it too
                await eng.release(rec)
        return status.exit_code

    return _run_cmd(args, body)


def _status_text(st: ContainerStatus | None, now: float) -> str:
    from kybernetes.runtime.api import ContainerState

    if st is None:
        return "Dead"
    if st.state == ContainerState.RUNNING:
        return f"Up {human_duration(now - st.started_at)}"
    if st.state == ContainerState.EXITED:
        return f"Exited ({st.exit_code}) {human_duration(now - st.finished_at)} ago"
    if st.state == ContainerState.CREATED:
        return "Created"
    return "Unknown"


def _command_text(argv: list[str]) -> str:
    text = " ".join(argv)
    return '"' + (text[:19] + "…" if len(text) > 20 else text) + '"'


def _ports_text(rec: Record) -> str:
    return ", ".join(f"{p['host_ip']}:{p['host_port']}->{p['container_port']}/{p['protocol']}" for p in rec.ports)


def _ps(args: argparse.Namespace) -> int:
    async def body(eng: Engine) -> int:
        from kybernetes.runtime.api import ContainerState

        rows = await eng.ps(all_=args.all)
        if args.quiet:
            for rec, _ in rows:
                print(rec.short_id)
            return 0
        now = time.time()
        lines = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]]
        for rec, st in rows:
            running = st is not None and st.state == ContainerState.RUNNING  # a stopped one has no ports
            lines.append([rec.short_id, rec.image, _command_text(rec.command), human_duration(now - rec.created) + " ago",
                          _status_text(st, now), _ports_text(rec) if running else "", rec.name])
        print(table(lines))
        return 0

    return _run_cmd(args, body)


def _logs(args: argparse.Namespace) -> int:
    try:
        tail = None if args.tail in (None, "all") else int(args.tail)
        if tail is not None and tail < 0:
            tail = None  # Docker's "all"
    except ValueError:
        print(f"error: invalid value for \"tail\": \"{args.tail}\" (a number of lines, or all)", file=sys.stderr)
        return 1
    try:
        since = time.time() - _parse_duration(args.since) if args.since else None
    except ValueError:
        print(f"error: invalid value for \"since\": \"{args.since}\" (a duration such as 30s, 5m or 2h)",
              file=sys.stderr)
        return 1

    async def body(eng: Engine) -> int:
        rec = eng.find(args.container)
        await _follow(eng, rec, follow=args.follow, tail=tail, timestamps=args.timestamps, since=since)
        return 0

    return _run_cmd(args, body)


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def _exec(args: argparse.Namespace) -> int:
    async def body(eng: Engine) -> int:
        from kybernetes.runtime.api import ContainerState

        rec = eng.find(args.container)
        st = await eng.status(rec)
        if st is None or st.state != ContainerState.RUNNING:
            print(f"Error response from daemon: container {rec.id} is not running", file=sys.stderr)
            return 1
        from .execio import run_exec

        return await run_exec(eng.runtime_of(rec), rec.container_id, args.cmd, tty=args.tty, stdin=args.interactive)

    return _run_cmd(args, body)


def _stop(args: argparse.Namespace) -> int:
    async def body(eng: Engine) -> int:
        rc = 0
        for key in args.containers:
            try:
                rec = eng.find(key)
            except Exception as e:
                print(str(e), file=sys.stderr)
                rc = 1
                continue
            await eng.stop(rec, args.time)
            print(key)
        return rc

    return _run_cmd(args, body)


def _rm(args: argparse.Namespace) -> int:
    from kybernetes.engine.engine import EngineError

    async def body(eng: Engine) -> int:
        rc = 0
        for key in args.containers:
            try:
                await eng.remove(eng.find(key), force=args.force)
                print(key)
            except EngineError as e:
                print(str(e), file=sys.stderr)
                rc = 1
        return rc

    return _run_cmd(args, body)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="create and start a container")
    add_data_dir(p)
    p.add_argument("-d", "--detach", action="store_true", help="run in the background and print the container ID")
    p.add_argument("--name", default=None)
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="[IP:]HOSTPORT:CPORT")
    p.add_argument("--link", action="append", default=[], metavar="NAME:ALIAS")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--entrypoint", default=None)
    p.add_argument("-w", "--workdir", default=None)
    p.add_argument("-u", "--user", default=None)
    p.add_argument("-m", "--memory", default=None, help="memory limit (e.g. 64m)")
    p.add_argument("--runtime", default="", choices=["", "runc", "process"])
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    p.set_defaults(func=_run)

    p = sub.add_parser("ps", help="list containers")
    add_data_dir(p)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_ps)

    p = sub.add_parser("logs", help="show a container's output")
    add_data_dir(p)
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default=None)
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--since", default=None)
    p.add_argument("container")
    p.set_defaults(func=_logs)

    p = sub.add_parser("exec", help="run a command in a running container")
    add_data_dir(p)
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("container")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=_exec)

    p = sub.add_parser("stop", help="stop containers")
    add_data_dir(p)
    p.add_argument("-t", "--time", type=float, default=10.0, help="seconds to wait before killing (default 10)")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=_stop)

    p = sub.add_parser("rm", help="remove containers")
    add_data_dir(p)
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=_rm)
