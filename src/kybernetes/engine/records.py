"""Container records of the standalone engine: ``<data>/containers/<id>.json``, one per container.

A record ties the user's view (64-hex ID, unique name, image, command, ports, links) to the runtime's sandbox
and container. Names are unique: `reserve` takes the store lock, checks, and writes the record before anything
is created, so two concurrent ``kyb run --name x`` cannot both win.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson


class NoSuchContainer(LookupError):
    pass


class NameConflict(ValueError):
    pass


@dataclass
class Record:
    id: str
    name: str
    image: str
    image_id: str
    command: list[str]
    created: float
    sandbox_id: str = ""
    container_id: str = ""
    ports: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    auto_remove: bool = False
    log_path: str = ""
    env: list[str] = field(default_factory=list)
    runtime: str = ""  # "runc" or "process"; "" (records written before it was kept): the engine's default

    @property
    def short_id(self) -> str:
        return self.id[:12]


class Records:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def all(self) -> list[Record]:
        out = []
        for p in self.root.glob("*.json"):
            with contextlib.suppress(FileNotFoundError, orjson.JSONDecodeError, TypeError):
                out.append(Record(**orjson.loads(p.read_bytes())))
        return sorted(out, key=lambda r: -r.created)

    def save(self, rec: Record) -> None:
        tmp = self.root / f".{rec.id}.tmp"
        tmp.write_bytes(orjson.dumps(asdict(rec)))
        os.replace(tmp, self.root / f"{rec.id}.json")

    def reserve(self, rec: Record) -> None:
        with self.lock():
            for other in self.all():
                if other.name == rec.name:
                    raise NameConflict(
                        f'Conflict. The container name "/{rec.name}" is already in use by container "{other.id}". '
                        "You have to remove (or rename) that container to be able to reuse that name."
                    )
            self.save(rec)

    def delete(self, rec: Record) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / f"{rec.id}.json").unlink()

    def find(self, key: str) -> Record:
        """By name, full ID or unique ID prefix, as Docker resolves container references."""
        records = self.all()
        for r in records:
            if r.name == key.lstrip("/") or r.id == key:
                return r
        matches = [r for r in records if key and r.id.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NoSuchContainer(f"Error response from daemon: multiple IDs found with provided prefix: {key}")
        raise NoSuchContainer(f"Error response from daemon: No such container: {key}")
