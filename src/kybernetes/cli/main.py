"""The ``kyb`` command.

Subcommands parse their flags and hand over to a component; errors a user can
fix are one line on stderr and exit status 2 (usage) or 1 (runtime), never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from kybernetes import KUBERNETES_VERSION, __version__


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kybernetes"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _server(args: argparse.Namespace) -> int:
    from kybernetes.apiserver.server import ConfigError, ServerConfig, parse_listen, serve
    from kybernetes.controllers.garbagecollector import run_garbage_collector
    from kybernetes.controllers.namespace import run_namespace_controller

    try:
        host, port = parse_listen(args.listen)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = ServerConfig(data_dir=Path(args.data_dir), host=host, port=port,
                       kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
                       service_cidr=args.service_cidr)
    if not args.no_controllers:
        cfg.companions.append(run_namespace_controller)
        cfg.companions.append(run_garbage_collector)
    _setup_logging(args.verbose)
    try:
        run_async(serve(cfg))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def run_async(coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (faster), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        asyncio.run(coro)
        return
    uvloop.run(coro)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kyb", description="Kybernetes: Kubernetes in Python.")
    p.add_argument("--version", action="version", version=f"kyb {__version__} (Kubernetes v{KUBERNETES_VERSION})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("server", help="run the API server")
    s.add_argument("--data-dir", default=str(default_data_dir()), help="where the state is kept")
    s.add_argument("--listen", default="127.0.0.1:6443", help="address:port to serve on (loopback only)")
    s.add_argument("--kubeconfig", default=None,
                   help="write the kubeconfig here (default: merge a 'kyb' context into ~/.kube/config)")
    s.add_argument("--service-cidr", default="10.96.0.0/12", help="range ClusterIPs are allocated from")
    s.add_argument("--no-controllers", action="store_true", help="run the API server alone")
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=_server)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
