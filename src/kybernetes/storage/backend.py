"""The etcd-shaped key-value interface every storage driver implements.

Lifecycle walkthrough (what the API server does with a backend):

1. ``await backend.start()`` opens (or recovers) the store.
2. Writes: ``create(key, value)`` fails with :class:`KeyExistsError` if the key
   is live; ``update(key, value, mod_revision)`` and ``delete(key, mod_revision)``
   are compare-and-swap on the key's current ``mod_revision`` and fail with
   :class:`RevisionMismatchError` (carrying the current value) when another
   writer got there first.  Every successful write returns the new global
   revision: one counter for the whole store, strictly increasing, never reused.
3. Reads: ``get(key)`` and ``range(prefix, ...)`` read the latest state, or the
   state as of a past ``revision`` while that revision is not compacted.
   ``range`` pages with ``limit`` and ``start_after`` (keys sort bytewise).
4. ``watch(prefix, after_revision)`` yields every change with a revision greater
   than ``after_revision`` under the prefix, in revision order, exactly once,
   then follows new changes until the iterator is closed.  Asking for history
   older than the compacted revision raises :class:`CompactedError`.
5. ``compact(revision)`` forgets superseded values and tombstones at or below
   ``revision``; the latest value of every live key always survives.
6. ``await backend.close()``.

Values are opaque bytes: the backend knows nothing of kinds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

PUT: Literal["PUT"] = "PUT"
DELETE: Literal["DELETE"] = "DELETE"


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """One change.  ``kv.mod_revision`` is the revision of the change itself.

    For ``DELETE``, ``kv.value`` is the last value the key held (so watchers can
    tell what went away) and ``prev`` is that same previous KeyValue.
    For ``PUT``, ``prev`` is the value before the change, or None on create.
    """

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    more: bool  # True when ``limit`` cut the result short
    revision: int  # the store revision the result reflects
    # When asked: live keys in the requested range (under the prefix, after ``start_after``)
    # at that revision, as etcd counts a range; ``count - len(kvs)`` keys remain for later pages.
    count: int = 0


class StorageError(Exception):
    pass


class KeyExistsError(StorageError):
    def __init__(self, key: str):
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str):
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatchError(StorageError):
    """Compare-and-swap failed; ``current`` is what the key holds now (None: deleted)."""

    def __init__(self, key: str, current: KeyValue | None):
        super().__init__(f"revision mismatch on {key}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision is older than the compacted revision."""

    def __init__(self, requested: int, compacted: int):
        super().__init__(f"required revision {requested} has been compacted (compacted revision {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int):
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


@runtime_checkable
class Backend(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def current_revision(self) -> int: ...

    async def compacted_revision(self) -> int: ...

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None: ...

    async def range(
        self,
        prefix: str,
        *,
        start_after: str | None = None,
        limit: int = 0,
        revision: int = 0,
        count: bool = False,
    ) -> RangeResult: ...

    async def create(self, key: str, value: bytes) -> int: ...

    async def update(self, key: str, value: bytes, mod_revision: int) -> int: ...

    async def delete(self, key: str, mod_revision: int = 0) -> KeyValue:
        """Delete ``key`` (CAS when ``mod_revision`` > 0); returns the tombstone's KeyValue.

        The returned KeyValue holds the deleted value with ``mod_revision`` set to
        the deletion's revision.  Raises KeyNotFoundError when the key is absent.
        """
        ...

    def watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]: ...

    async def compact(self, revision: int) -> None: ...
