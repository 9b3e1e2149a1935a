"""The per-container shim: the small process that owns a container's stdio and outlives the runtime.

Started as ``python -S -m kybernetes.runtime.shim <container dir>`` by `shimctl.spawn_shim`, it reads
``shim.conf`` (a ``marshal``-ed dict: the shim runs on the same interpreter) from the container directory, then:

1. forks and lets its parent exit at once, so it is nobody's child and survives the program that started it
   (it runs in its own session, with stdin and, once the status line is written, stdout on /dev/null);
2. becomes a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so the container's init is re-parented to it
   when ``runc create`` returns, and only it can learn the exit status;
3. listens on ``attach.sock`` in the container directory (`attachhub`);
4. creates the container process: ``runc create`` with pipes it owns as stdout/stderr (or a console socket
   receiving the pty master when ``tty``), or, in ``process`` mode, a forked child that waits on a FIFO exactly
   like runc's exec FIFO, so ``start`` is a separate step in both modes. Its stdin is /dev/null, unless the
   config says ``stdin``: then it is a pipe whose write end the shim keeps open (or, with ``tty``, the terminal,
   whose master the shim holds anyway), for attach clients to write to;
5. writes one status line to stdout: ``ok <init pid> <shim pid>`` or ``error <message>``;
6. copies the output into ``log_path`` in the CRI format (`crilog`), reopening the file on SIGUSR1, and to every
   attach client; passes attach clients' input to the container's stdin;
7. when the init exits, drains the output, reads the memory cgroup's ``oom_kill`` counter, writes ``exit.json``
   atomically (``exit_code`` is 128 + signal when killed), sends attach clients the exit code and exits.

Started as ``python -S -P -m kybernetes.runtime.shim --spare <shim dir> <idle seconds>`` (`shimctl.spawn_spare`),
it is a spare: it detaches and sets itself up the same way, reports ``ready <pid>``, then waits on a unix socket
in the shim dir for a container directory (see `spare`) and goes on from step 3, its status line going back over
the socket.

Its resident size and start time are paid once per container, so it imports only C modules (``_signal``,
``select``, ``marshal``, ``_socket``), ``os``, ``sys``, ``time``, ``crilog``, ``attachhub`` and ``attachwire``
and ``ctypes`` (for ``prctl``; ``socket`` only for a console; ``fcntl`` and ``termios`` on the first resize);
``-S`` keeps ``site`` out. No ``json``: it would bring ``re`` and ``enum`` (12 ms of imports).
The runtime never talks to the shim after the status line except through the attach socket: state is read from
files (``exit.json``) and ``/proc``, and signals go to the container directly, so a dead runtime loses nothing,
and an attach client that dies is simply dropped.
"""

from __future__ import annotations

import marshal
import os
import select
import sys
import time

from kybernetes.runtime.attachhub import AttachHub
from kybernetes.runtime.attachwire import STDERR, STDOUT
from kybernetes.runtime.crilog import LineSplitter, LogFile

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
else:  # the C module: ``signal`` imports ``enum``, which costs more than the rest of the shim together
    import _signal as signal

DRAIN_SECONDS = 2.0


class ShimError(Exception):
    pass


def set_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise ShimError(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


def runc_error(text: bytes) -> str:
    """The message of runc's last error line (``time=... level=error msg="..."``), else the last line."""
    lines = [ln for ln in text.decode(errors="replace").splitlines() if ln.strip()]
    if not lines:
        return "runc create failed"
    last = lines[-1]
    start = last.find('msg="')
    if start >= 0:
        msg = last[start + 5:]
        end = msg.rfind('"')
        return (msg[:end] if end >= 0 else msg).replace('\\"', '"')
    return last


def read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


SIGNALS_TO_RESET = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGUSR1)


def stdin_pipe(cfg: dict, devnull: int) -> tuple[int, int]:
    """(the container's end, ours) of its stdin: a pipe with ``stdin`` and no terminal, else /dev/null and -1."""
    if cfg.get("stdin") and not cfg["tty"]:
        return os.pipe()
    return devnull, -1


def runc_create(cfg: dict, devnull: int) -> tuple[int, list[tuple[int, bytes]], int]:
    """Run ``runc create``; return the init pid, the output descriptors with their stream names, and the write
    end of the container's stdin pipe (-1: none; with a terminal, the master is the first output descriptor)."""
    args = [*cfg["runc"], "create", "--bundle", cfg["bundle"], "--pid-file", cfg["pid_file"]]
    if not cfg["tty"]:
        stdin_r, stdin_w = stdin_pipe(cfg, devnull)
        try:
            init_pid, out_r, err_r = _spawn_runc_create([*args, cfg["id"]], stdin_r)
        except BaseException:
            if stdin_w >= 0:
                os.close(stdin_w)
            raise
        finally:
            if stdin_r != devnull:
                os.close(stdin_r)
        return init_pid, [(out_r, b"stdout"), (err_r, b"stderr")], stdin_w
    import socket

    path = cfg["console_socket"]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(1)
        init_pid, out_r, err_r = _spawn_runc_create([*args, "--console-socket", path, cfg["id"]], devnull)
        os.close(out_r)
        os.close(err_r)
        sock.settimeout(10)
        conn, _ = sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    finally:
        sock.close()
        try:
            os.unlink(path)
        except OSError:
            pass
    if not fds:
        raise ShimError("runc sent no console")
    return init_pid, [(fds[0], b"stdout")], -1


def _spawn_runc_create(args: list[str], stdin: int) -> tuple[int, int, int]:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.posix_spawnp(args[0], args, dict(os.environ), setsigdef=SIGNALS_TO_RESET, file_actions=[
        (os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)])
    os.close(out_w)
    os.close(err_w)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise ShimError(runc_error(read_available(out_r) + read_available(err_r)))
    pid_file = args[args.index("--pid-file") + 1]
    with open(pid_file) as f:
        return int(f.read().strip()), out_r, err_r


def which(name: str, env: list[str]) -> str:
    if "/" in name:
        return name
    path = os.defpath
    for kv in env:
        if kv.startswith("PATH="):
            path = kv[5:]
    for d in path.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ShimError(f'exec: "{name}": executable file not found in $PATH')


def process_create(cfg: dict, devnull: int) -> tuple[int, list[tuple[int, bytes]], int]:
    """Fork the container process; it waits on the start FIFO (opened for reading by `start`), then execs.
    Returns what `runc_create` does."""
    argv, env, cwd = cfg["argv"], cfg["env"], cfg["cwd"]
    exe = which(argv[0], env)
    envmap = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in env)
    if cfg["tty"]:
        master, slave = os.openpty()
        streams, child_fds, parent_ends = [(master, b"stdout")], (slave, slave, slave), [slave]
        stdin_w = -1
    else:
        stdin_r, stdin_w = stdin_pipe(cfg, devnull)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        streams, child_fds, parent_ends = [(out_r, b"stdout"), (err_r, b"stderr")], (stdin_r, out_w, err_w), [
            out_w, err_w] + ([stdin_r] if stdin_r != devnull else [])
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if cfg["tty"]:
                import fcntl
                import termios

                fcntl.ioctl(child_fds[0], termios.TIOCSCTTY, 0)
            for target, fd in enumerate(child_fds):
                os.dup2(fd, target)
            for sig in SIGNALS_TO_RESET:
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            os.chdir(cwd)
            fifo = os.open(cfg["start_fifo"], os.O_WRONLY)
            os.write(fifo, b"0")
            os.close(fifo)
            os.execve(exe, argv, envmap)
        except BaseException as e:
            os.write(2, f"kyb-shim: {argv[0]}: {e}\n".encode())
        os._exit(127)
    for fd in parent_ends:
        os.close(fd)
    return pid, streams, stdin_w


def oom_killed(cfg: dict) -> bool:
    path = cfg.get("oom_control")
    if not path:
        return False
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
    except OSError:
        pass
    return False


def reap(init_pid: int) -> int | None:
    """Reap every exited child; the init's exit code (128 + signal when killed) if it was among them."""
    code = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid == init_pid:
            ec = os.waitstatus_to_exitcode(status)
            code = 128 - ec if ec < 0 else ec
    return code


def serve(cfg: dict, init_pid: int, streams: list[tuple[int, bytes]], log: LogFile | None, wake: int,
          poller: select.poll, hub: AttachHub) -> int:
    """Copy output into the log and to attach clients until the init exited and its output is drained; return
    its exit code."""
    splitters = {fd: LineSplitter(log, name) for fd, name in streams}
    kinds = {fd: STDOUT if name == b"stdout" else STDERR for fd, name in streams}
    poller.register(wake, select.POLLIN)
    for fd in splitters:
        poller.register(fd, select.POLLIN)
    code = reap(init_pid)
    deadline = 0.0
    if code is not None:
        deadline = time.monotonic() + DRAIN_SECONDS
    while code is None or (splitters and time.monotonic() < deadline):
        timeout = None if code is None else max(0.0, deadline - time.monotonic()) * 1000
        for fd, events in sorted(poller.poll(timeout), key=lambda e: e[0] != wake):  # signals first
            if fd == wake:
                sigs = read_available(wake)
                if log is not None and bytes([signal.SIGUSR1]) in sigs:
                    log.reopen()
                continue
            if fd not in splitters:
                if hub.owns(fd):
                    try:
                        hub.handle(fd, events)
                    except Exception as e:  # attach is a guest here: it never takes the container down
                        hub.abandon(e)
                continue
            try:
                data = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:  # EIO: the pty's last writer is gone
                data = b""
            if data:
                splitters[fd].feed(data)
                try:
                    hub.broadcast(kinds[fd], data)
                except Exception as e:
                    hub.abandon(e)
            else:
                splitters.pop(fd).close()
                poller.unregister(fd)
                os.close(fd)
        if code is None:
            code = reap(init_pid)
            if code is not None:
                deadline = time.monotonic() + DRAIN_SECONDS
                if cfg["mode"] == "process":  # no PID namespace: take the leftovers down like one would
                    try:
                        os.killpg(init_pid, signal.SIGKILL)
                    except OSError:
                        pass
    for splitter in splitters.values():
        splitter.close()
    return code


def write_exit(cfg: dict, init_pid: int, code: int) -> None:
    oom = "true" if code != 0 and oom_killed(cfg) else "false"
    record = f'{{"exit_code": {code}, "finished_at": {time.time()!r}, "oom_killed": {oom}, "pid": {init_pid}}}'
    path = cfg["exit_path"]
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(record)
    os.replace(tmp, path)


def report(status: str) -> None:
    try:
        os.write(1, (status.replace("\n", " ") + "\n").encode())
    except OSError:
        pass
    devnull = os.open("/dev/null", os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def setup() -> tuple[int, int]:
    """Signals, the wake pipe and the subreaper bit; return (wake read end, /dev/null)."""
    os.chdir("/")
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGUSR1, lambda *_: None)
    devnull = os.open("/dev/null", os.O_RDWR)
    set_subreaper()
    return wake_r, devnull


def run(container_dir: str, wake_r: int, devnull: int, status: Callable[[str], None]) -> None:
    """Create the container of ``container_dir``, report through ``status``, serve it until it exits; exit."""
    poller = select.poll()
    try:
        with open(os.path.join(container_dir, "shim.conf"), "rb") as f:
            cfg = marshal.load(f)
        hub = AttachHub(container_dir, poller, bool(cfg.get("stdin_once")))
        hub.listen()
        log = None
        if cfg["log_path"]:
            log = LogFile(cfg["log_path"], cfg["log_max_bytes"], cfg["log_max_files"])
        create = runc_create if cfg["mode"] == "runc" else process_create
        init_pid, streams, stdin_w = create(cfg, devnull)
        if cfg["tty"]:
            tty = os.dup(streams[0][0])
            hub.set_stdio(tty if cfg.get("stdin") else -1, tty)
        else:
            hub.set_stdio(stdin_w, -1)
    except (ShimError, OSError, ValueError, EOFError, KeyError, TypeError) as e:
        status(f"error {e}")
        os._exit(1)
    status(f"ok {init_pid} {os.getpid()}")
    code = serve(cfg, init_pid, streams, log, wake_r, poller, hub)
    write_exit(cfg, init_pid, code)
    if log is not None:
        log.close()
    try:
        hub.finish(code)
    except Exception:  # the exit record is written: nothing of the container's depends on its attach clients
        pass
    os._exit(0)


def main() -> None:
    if sys.argv[1] == "--spare":
        spare(sys.argv[2], float(sys.argv[3]))
        return
    container_dir = sys.argv[1]
    if os.fork() != 0:
        os._exit(0)
    try:
        wake_r, devnull = setup()
    except (ShimError, OSError) as e:
        report(f"error {e}")
        os._exit(1)
    run(container_dir, wake_r, devnull, report)


# --- the spare shim ------------------------------------------------------------------------------------------

SPARE_TICK = 1.0  # how often an idle spare checks that its directory is still there
CLAIM_GRACE = 30.0  # how long a claimed spare waits for its claimant to connect


def own_start_time() -> int:
    with open("/proc/self/stat", "rb") as f:
        data = f.read()
    return int(data[data.rfind(b")") + 2:].split()[19])


def spare(shim_dir: str, idle: float) -> None:
    """Wait, already detached, for a container directory on ``<shim_dir>/spare-<pid>-<start>.sock``; run it.

    A claimant renames the socket to ``.claimed`` (atomic: one claimant wins), connects, sends the container
    directory and a newline and reads the status line back. The spare exits by itself after ``idle`` seconds
    unclaimed (unlinking its socket first, which no claimant can then rename), as soon as ``shim_dir`` or its
    socket disappears, or when a claimant does not connect within `CLAIM_GRACE`.
    """
    import _socket  # not ``socket``: it imports ``enum`` and ``selectors`` (11 ms)

    if os.fork() != 0:
        os._exit(0)
    try:
        wake_r, devnull = setup()
        name = f"spare-{os.getpid()}-{own_start_time()}"
        path = os.path.join(shim_dir, name + ".sock")
        claimed = os.path.join(shim_dir, name + ".claimed")
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(8)
    except (ShimError, OSError) as e:
        report(f"error {e}")
        os._exit(1)
    report(f"ready {os.getpid()}")
    sock.settimeout(SPARE_TICK)
    deadline = time.monotonic() + idle
    claimed_at = 0.0
    while True:
        try:
            conn_fd, _ = sock._accept()  # type: ignore[attr-defined]  # what socket.accept wraps
            break
        except TimeoutError:
            pass
        now = time.monotonic()
        if os.path.exists(path):
            if now < deadline and os.path.isdir(shim_dir):
                continue
            try:
                os.unlink(path)  # retire; fails when a claimant renamed it first
            except OSError:
                continue
            os._exit(0)
        if not os.path.exists(claimed):
            os._exit(0)
        claimed_at = claimed_at or now
        if now - claimed_at > CLAIM_GRACE:
            try:
                os.unlink(claimed)
            except OSError:
                pass
            os._exit(0)
    sock.close()
    try:
        os.unlink(claimed)
    except OSError:
        pass
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, conn_fd)
    conn.settimeout(10)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                os._exit(1)
            data += chunk
    except OSError:
        os._exit(1)
    container_dir = data[:-1].decode()
    try:
        fd = os.open(os.path.join(container_dir, "shim.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    except OSError:
        pass

    def status(line: str) -> None:
        try:
            conn.sendall((line.replace("\n", " ") + "\n").encode())
        except OSError:
            pass
        conn.close()

    run(container_dir, wake_r, devnull, status)


if __name__ == "__main__":
    main()
