"""Shared bits of the ``kyb`` subcommands: the data dir and the one-line failure."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kybernetes.images.store import ImageStore


def default_data_dir() -> Path:
    """``$KYB_DATA_DIR``, else ``$XDG_DATA_HOME/kybernetes`` (``~/.local/share/kybernetes``)."""
    if os.environ.get("KYB_DATA_DIR"):
        return Path(os.environ["KYB_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kybernetes"


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=str(default_data_dir()), help="where images and containers are kept "
                   "(default: $KYB_DATA_DIR or ~/.local/share/kybernetes)")


def fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def image_store(args: argparse.Namespace) -> ImageStore:
    from kybernetes.images.store import ImageStore

    return ImageStore(Path(args.data_dir) / "images")
