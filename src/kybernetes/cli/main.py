"""The ``kyb`` command.

Subcommands parse their flags and hand over to a component; errors a user can
fix are one line on stderr and exit status 2 (usage) or 1 (runtime), never a
traceback.

* ``kyb server``: the API server, with the controller manager and the scheduler
  beside it (``--no-controllers`` for the API server alone);
* ``kyb controller-manager`` / ``kyb scheduler``: the same components alone,
  against any server named by a kubeconfig;
* ``kyb agent --simulate N``: N simulated nodes (no containers), for demos,
  tests and scale.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from kybernetes import KUBERNETES_VERSION, __version__

from .common import default_data_dir


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def run_async(coro: Coroutine[Any, Any, None], fast_loop: bool = True) -> None:
    """Run on uvloop when it is installed (faster), else on asyncio's loop.

    ``fast_loop=False`` for the node agent: uvloop starts child processes with a full ``fork()`` (11 ms and 4.5 ms
    of CPU each from an 80 MB process, measured), asyncio's loop with ``vfork()`` (1.7 ms, 0.7 ms), and the
    agent starts several per pod (``ip``, ``unshare``, ``runc``).
    """
    if not fast_loop:
        asyncio.run(coro)
        return
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        asyncio.run(coro)
        return
    uvloop.run(coro)


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _manager_options(args: argparse.Namespace, root_ca_pem: str | None) -> Any:
    from kybernetes.controllers.manager import ManagerOptions

    return ManagerOptions(root_ca_pem=root_ca_pem, node_grace_period=args.node_monitor_grace_period,
                          eviction_timeout=args.pod_eviction_timeout,
                          disabled=frozenset(c for c in (args.disable_controllers or "").split(",") if c))


def _server(args: argparse.Namespace) -> int:
    """``kyb server`` (API server with controllers and scheduler) and ``kyb up`` (the same plus this machine's
    node agent, which stops its pods and removes its network when the cluster stops)."""
    from kybernetes.apiserver.listen import ConfigError, bind_listener, parse_listen, url_of

    from . import agentproc

    try:
        host, port = parse_listen(args.listen)
    except ConfigError as e:
        return _fail(str(e), 2)
    agent_cfg = _agent_config(args) if args.command == "up" else None
    try:
        sock = bind_listener(host, port)
    except ConfigError as e:
        return _fail(str(e))
    agent: Any = None
    if agent_cfg is not None:  # started now: its imports overlap the server's, its requests wait in the backlog
        agent = agentproc.start(url_of(sock), _agent_argv(args, agent_cfg.runtime))
    try:
        return _serve(args, host, port, sock, agent_cfg, agent)
    finally:
        if agent is not None:  # the server did not get to stop it (it failed before or while starting)
            agentproc.stop_now(agent)


def _serve(args: argparse.Namespace, host: str, port: int, sock: Any, agent_cfg: Any, agent: Any) -> int:
    from kybernetes.apiserver.listen import ConfigError
    from kybernetes.apiserver.pki import ensure_ca
    from kybernetes.apiserver.server import ServerConfig, serve
    from kybernetes.controllers.manager import run_controller_manager
    from kybernetes.scheduler import run_scheduler

    data_dir = Path(args.data_dir)
    cfg = ServerConfig(data_dir=data_dir, host=host, port=port,
                       kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
                       service_cidr=args.service_cidr, sock=sock)
    _setup_logging(args.verbose)
    if not getattr(args, "no_controllers", False):
        try:
            ca = ensure_ca(data_dir)
        except OSError as e:
            return _fail(f"cannot create the cluster CA in {data_dir}: {e.strerror}")
        opts = _manager_options(args, ca)
        cfg.companions.append(functools.partial(run_controller_manager, opts=opts))
        if "scheduler" not in opts.disabled:
            cfg.companions.append(run_scheduler)
    if agent_cfg is not None:
        from . import agentproc

        cfg.companions.append(functools.partial(agentproc.supervise, flags=_agent_argv(args, agent_cfg.runtime),
                                                first=agent))
        print(f"kyb up: node agent with the {_runtime_note(agent_cfg.runtime)}; kubeconfig: "
              f"{cfg.kubeconfig or '~/.kube/config (context kyb)'}; Ctrl-C stops everything", file=sys.stderr)
    try:
        run_async(serve(cfg))
    except ConfigError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        pass
    return 0


def _agent_argv(args: argparse.Namespace, runtime: str) -> list[str]:
    """``kyb up``'s agent flags for its ``kyb agent`` child."""
    argv = ["--runtime", runtime, "--pod-cidr", args.pod_cidr, "--cluster-cidr", args.cluster_cidr,
            "--pod-bridge", args.pod_bridge, "--cgroup-root", args.cgroup_root, "--kubelet-port",
            str(args.kubelet_port), "--data-dir", args.data_dir]
    if args.node_name:
        argv += ["--node-name", args.node_name]
    if args.offline:
        argv.append("--offline")
    if args.verbose:
        argv.append("--verbose")
    return argv


async def _until_signal(main: Coroutine[Any, Any, None], on_hangup: Callable[[], None] | None = None) -> None:
    """Run ``main`` until it ends or SIGTERM/SIGINT (or, with ``on_hangup``, SIGHUP) arrives; then cancel it."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    if on_hangup is not None:
        def hangup() -> None:
            on_hangup()
            task.cancel()
        loop.add_signal_handler(signal.SIGHUP, hangup)
    try:
        await task
    except asyncio.CancelledError:
        pass


def _component(args: argparse.Namespace, start: Callable[[str], Coroutine[Any, Any, None]],
               on_hangup: Callable[[], None] | None = None, fast_loop: bool = True) -> int:
    from kybernetes.client.config import KubeconfigError, server_url

    try:
        url = getattr(args, "server", None) or server_url(args.kubeconfig, args.context)
    except KubeconfigError as e:
        return _fail(str(e), 2)
    _setup_logging(args.verbose)
    logging.getLogger("kybernetes").info("%s starting against %s", args.command, url)
    try:
        run_async(_until_signal(start(url), on_hangup), fast_loop)
    except KeyboardInterrupt:
        pass
    return 0


def _controller_manager(args: argparse.Namespace) -> int:
    from kybernetes.controllers.manager import run_controller_manager

    ca = Path(args.root_ca_file).read_text() if args.root_ca_file else None
    return _component(args, functools.partial(run_controller_manager, opts=_manager_options(args, ca)))


def _scheduler(args: argparse.Namespace) -> int:
    from kybernetes.scheduler import run_scheduler

    return _component(args, run_scheduler)


def _agent(args: argparse.Namespace) -> int:
    from kybernetes.kubelet.simulated import run_simulated_agent

    if args.simulate is None:
        return _real_agent(args)
    if args.simulate < 1:
        return _fail("--simulate needs a positive number of nodes", 2)
    labels = dict(kv.split("=", 1) for kv in args.label if "=" in kv)
    capacity = {"cpu": args.cpu, "memory": args.memory, "pods": str(args.pods)}
    return _component(args, functools.partial(run_simulated_agent, count=args.simulate,
                                              name_prefix=args.name_prefix, capacity=capacity, labels=labels,
                                              lease_renew_interval=args.lease_renew_interval))


def _agent_config(args: argparse.Namespace) -> Any:
    from kybernetes.engine.engine import EngineError, choose_runtime
    from kybernetes.kubelet.agent import AgentConfig

    try:
        runtime = choose_runtime(args.runtime)
    except EngineError as e:
        raise SystemExit(_fail(str(e), 2)) from None
    return AgentConfig(node_name=args.node_name or "", data_dir=Path(args.data_dir), runtime=runtime,
                       pod_cidr=args.pod_cidr, cluster_cidr=args.cluster_cidr, bridge=args.pod_bridge,
                       nft_table=args.pod_bridge, cgroup_root=args.cgroup_root, kubelet_port=args.kubelet_port,
                       offline=args.offline)


def _real_agent(args: argparse.Namespace) -> int:
    from kybernetes.kubelet.agent import AgentError, run_agent

    from .agentproc import die_with_parent

    if not die_with_parent():
        return 0  # the kyb up that started us is already gone
    cfg = _agent_config(args)
    if not args.cleanup_on_exit:
        print(f"kyb agent: {_runtime_note(cfg.runtime)}", file=sys.stderr)
    cleanup = [args.cleanup_on_exit]  # a hangup (kyb up died) leaves the containers for the next agent

    def hangup() -> None:
        cleanup[0] = False
    try:
        return _component(args, functools.partial(run_agent, cfg=cfg, cleanup_on_exit=lambda: cleanup[0]), hangup,
                          fast_loop=False)
    except AgentError as e:
        return _fail(str(e))


def _runtime_note(runtime: str) -> str:
    return f"{runtime} runtime" + ("" if runtime == "runc" else
                                   " (no isolation: runc needs root and Debian's runc package)")


def _add_agent_flags(p: argparse.ArgumentParser, data_dir: bool = True) -> None:
    p.add_argument("--node-name", default=None, help="the Node's name (default: the host name)")
    p.add_argument("--runtime", default="", choices=["", "runc", "process"],
                   help="container runtime (default: runc when root with runc installed, else process)")
    p.add_argument("--pod-cidr", default="10.244.0.0/24", help="pod IPs of this node (default 10.244.0.0/24)")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16", help="all pod IPs (blackholed beyond this node)")
    p.add_argument("--pod-bridge", default="kybpods0", help="the pods' bridge (and nftables table) name")
    p.add_argument("--cgroup-root", default="/kybpods", help="cgroup under which pods run")
    p.add_argument("--kubelet-port", type=int, default=10250,
                   help="loopback port of the agent's logs/exec/port-forward server (0: any free port)")
    p.add_argument("--offline", action="store_true", default=os.environ.get("KYB_OFFLINE", "") not in ("", "0"),
                   help="contact no image registry beyond this machine: pods run what the image store has "
                        "(default: on when $KYB_OFFLINE is set)")
    if data_dir:
        p.add_argument("--data-dir", default=str(default_data_dir()), help="images, containers and pod files")
        p.add_argument("--server", default=None, help="the API server's URL (instead of a kubeconfig)")
        p.add_argument("--cleanup-on-exit", action="store_true",
                       help="on SIGTERM/SIGINT stop every container and remove the pod network (kyb up does this)")


def _add_kubeconfig(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")),
                   help="kubeconfig naming the API server (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    p.add_argument("-v", "--verbose", action="store_true")


def _add_controller_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="seconds without a heartbeat before a node is Unknown (default 40)")
    p.add_argument("--pod-eviction-timeout", type=float, default=None,
                   help="cap on the seconds pods tolerate an unreachable node (default: their tolerations)")
    p.add_argument("--disable-controllers", default="",
                   help="comma-separated controller names to leave off ('scheduler' too, with kyb server)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kyb", description="Kybernetes: Kubernetes in Python.")
    p.add_argument("--version", action="version", version=f"kyb {__version__} (Kubernetes v{KUBERNETES_VERSION})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("server", help="run the API server (with controllers and scheduler)")
    s.add_argument("--data-dir", default=str(default_data_dir()), help="where the state is kept")
    s.add_argument("--listen", default="127.0.0.1:6443", help="address:port to serve on (loopback only)")
    s.add_argument("--kubeconfig", default=None,
                   help="write the kubeconfig here (default: merge a 'kyb' context into ~/.kube/config)")
    s.add_argument("--service-cidr", default="10.96.0.0/12", help="range ClusterIPs are allocated from")
    s.add_argument("--no-controllers", action="store_true", help="run the API server alone")
    _add_controller_flags(s)
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=_server)

    cm = sub.add_parser("controller-manager", help="run the controllers against an API server")
    _add_kubeconfig(cm)
    _add_controller_flags(cm)
    cm.add_argument("--root-ca-file", default=None, help="CA certificate to publish as kube-root-ca.crt")
    cm.set_defaults(func=_controller_manager)

    sc = sub.add_parser("scheduler", help="run the scheduler against an API server")
    _add_kubeconfig(sc)
    sc.set_defaults(func=_scheduler)

    ag = sub.add_parser("agent", help="run the node agent for this machine (or --simulate N nodes)")
    _add_kubeconfig(ag)
    ag.add_argument("--simulate", type=int, default=None, metavar="N", help="register N simulated nodes")
    ag.add_argument("--name-prefix", default="kwok-node", help="node names are PREFIX-0 ... PREFIX-(N-1)")
    ag.add_argument("--cpu", default="4", help="cpu capacity of each node (default 4)")
    ag.add_argument("--memory", default="16Gi", help="memory capacity of each node (default 16Gi)")
    ag.add_argument("--pods", type=int, default=110, help="pod capacity of each node (default 110)")
    ag.add_argument("--label", action="append", default=[], metavar="K=V", help="a label for every node")
    ag.add_argument("--lease-renew-interval", type=float, default=10.0,
                    help="seconds between Lease renewals (default 10, as the kubelet); shorten it together "
                         "with the server's --node-monitor-grace-period")
    _add_agent_flags(ag)
    ag.set_defaults(func=_agent)

    up = sub.add_parser("up", help="a whole one-node cluster: API server, controllers, scheduler, node agent")
    up.add_argument("--data-dir", default=str(default_data_dir()), help="where the state is kept")
    up.add_argument("--listen", default="127.0.0.1:6443", help="address:port to serve on (loopback only)")
    up.add_argument("--kubeconfig", default=None,
                    help="write the kubeconfig here (default: merge a 'kyb' context into ~/.kube/config)")
    up.add_argument("--service-cidr", default="10.96.0.0/12", help="range ClusterIPs are allocated from")
    _add_controller_flags(up)
    _add_agent_flags(up, data_dir=False)
    up.add_argument("-v", "--verbose", action="store_true")
    up.set_defaults(func=_server)

    from . import containers, images

    images.register(sub)
    containers.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (`kyb build | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
