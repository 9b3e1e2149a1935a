"""Informer: a local, always-current cache of one resource, fed by LIST + WATCH.

The shape is client-go's reflector + indexer + event handlers, without the
shared-informer machinery (one informer, one task):

* **List.**  A paginated LIST (``limit``/``continue``) without a
  resourceVersion, so the result is one consistent snapshot.  It *replaces* the
  cache: objects missing from it are reported deleted, new ones added, changed
  ones (by resourceVersion) updated.
* **Watch.**  From the list's resourceVersion with ``allowWatchBookmarks``;
  every event (bookmarks too) advances :attr:`Informer.resource_version`.  When
  the server ends the stream (``timeoutSeconds``, a restart), the watch resumes
  from there: nothing is missed and nothing is listed again.  Only ``410 Gone``
  / ``Expired`` (an ERROR event or the HTTP status), or another ERROR event,
  makes it list again.
* **Errors.**  Connection failures and server errors wait with capped
  exponential backoff (:class:`Backoff`) and then resume the watch, or retry the
  list if there was none yet.  Handlers that raise are logged; they never stop
  the informer.
* **Cache.**  Keys are ``namespace/name`` (``name`` when cluster-scoped).
  Objects pass through an optional ``transform`` before they are stored (to
  slim them down; it must keep ``metadata.resourceVersion``, which a relist
  compares); the cache and handlers share them, so handlers must not mutate
  what they receive.  Custom indexes map an object to index values
  (e.g. owner uids) and are kept in step with every change.
* **Handlers.**  ``on_add(obj)``, ``on_update(old, new)``, ``on_delete(obj)``
  run in the informer's task *after* the cache changed, so a handler that reads
  the cache sees the new state.  They must be quick: enqueue a key, no I/O.  A
  level-triggered controller then reads the cache in its own workers.

Invariants: after :meth:`Informer.wait_synced` the cache holds the state of
some revision at or after the first list; it then only moves forward.
Extension points for the client package to come (work queue, shared
informers): :meth:`add_event_handler` may be called several times, and
``resync_period`` replays every cached object as an update (no API calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from kybernetes.client.rest import JSON, METADATA, METADATA_LIST, APIError, Client, resource_path

log = logging.getLogger("kybernetes.client.informer")

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
Transform = Callable[[Obj], Obj]
AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]

# Errors after which the informer backs off and tries again (anything else is a bug and propagates):
# refused or broken connections, server errors, and bodies that are not JSON.
RETRYABLE: tuple[type[BaseException], ...] = (APIError, aiohttp.ClientError, OSError, TimeoutError,
                                              orjson.JSONDecodeError)


def object_key(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object (client-go's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def resource_version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


@dataclass
class Backoff:
    """Capped exponential backoff with jitter; ``random`` is injectable so tests are exact."""

    initial: float = 0.2
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    rand: Callable[[], float] = random.random
    _next: float = field(default=0.0, init=False)

    def next(self) -> float:
        base = self._next or self.initial
        self._next = min(base * self.factor, self.maximum)
        return base * (1 + self.jitter * self.rand())

    def reset(self) -> None:
        self._next = 0.0


class Expired(Exception):
    """The watch's resourceVersion is gone (410): only a new list can continue."""


@dataclass
class _Handlers:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


class Informer:
    """LIST + WATCH cache of one resource (all namespaces unless ``namespace`` is given)."""

    def __init__(self, client: Client, group: str, version: str, plural: str, *,
                 namespace: str | None = None, metadata_only: bool = False,
                 label_selector: str | None = None, field_selector: str | None = None,
                 page_size: int = 500, transform: Transform | None = None,
                 resync_period: float | None = None, backoff: Backoff | None = None,
                 watch_timeout: Callable[[], int] | None = None):
        self.client = client
        self.group, self.version, self.plural = group, version, plural
        self.path = resource_path(group, version, plural, namespace)
        self.page_size = page_size
        self.transform = transform
        self.resync_period = resync_period
        self.backoff = backoff or Backoff()
        # Like client-go: spread watch lifetimes over 5-10 minutes so watchers do not reconnect in step.
        self.watch_timeout = watch_timeout or (lambda: int(300 * (1 + random.random())))
        self._accept_list = METADATA_LIST if metadata_only else JSON
        self._accept_watch = METADATA if metadata_only else JSON
        self._params: dict[str, str] = {}
        if label_selector:
            self._params["labelSelector"] = label_selector
        if field_selector:
            self._params["fieldSelector"] = field_selector
        self._items: dict[str, Obj] = {}
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._handlers: list[_Handlers] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self.resource_version = ""  # last revision seen: a list, an event or a bookmark
        self.lists = 0  # how many LISTs were done (tests and metrics read it)

    def __repr__(self) -> str:
        return f"Informer({self.path})"

    # -- registration --------------------------------------------------------------

    def add_event_handler(self, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                          on_delete: DeleteHandler | None = None) -> None:
        """Register handlers; objects already cached are replayed to ``on_add``."""
        self._handlers.append(_Handlers(on_add, on_update, on_delete))
        if on_add is not None:
            for obj in list(self._items.values()):
                self._call(on_add, obj)

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Index the cache by ``func(obj)`` (any number of values per object)."""
        self._index_funcs[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    # -- reads (the cache) ---------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        """True once the first list has been stored."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def keys(self) -> list[str]:
        return list(self._items)

    def objects(self) -> list[Obj]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def by_index(self, name: str, value: str) -> list[Obj]:
        keys = self._indices[name].get(value)
        return [self._items[k] for k in keys] if keys else []

    def index_keys(self, name: str, value: str) -> set[str]:
        return set(self._indices[name].get(value, ()))

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer {self.path}")
            if self.resync_period:
                self._resync_task = asyncio.create_task(self._resync_loop(self.resync_period),
                                                        name=f"informer resync {self.path}")
        return self._task

    async def stop(self) -> None:
        """Cancel the list/watch task (closing its HTTP response) and wait for it."""
        tasks = [t for t in (self._task, self._resync_task) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._task = self._resync_task = None

    async def __aenter__(self) -> Informer:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def run(self) -> None:
        """List, then watch for ever; see the module docstring for the error rules."""
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                    self.backoff.reset()
                got_events, quick = await self._watch()
                if got_events:
                    self.backoff.reset()
                elif quick:
                    # An empty stream that ends at once would otherwise spin; wait a little.
                    await asyncio.sleep(self.backoff.next())
            except Expired as e:
                log.info("%r: %s; listing again", self, e)
                need_list = True
                await asyncio.sleep(self.backoff.next() / 4)
            except RETRYABLE as e:
                if isinstance(e, APIError) and e.code == 410:
                    need_list = True
                delay = self.backoff.next()
                log.warning("%r: %s: %s; retrying in %.1fs", self, type(e).__name__, e, delay)
                await asyncio.sleep(delay)

    # -- list and watch ------------------------------------------------------------

    async def _list(self) -> None:
        items: list[Obj] = []
        token = ""
        while True:
            params = dict(self._params, limit=str(self.page_size))
            if token:
                params["continue"] = token
            try:
                page = await self.client.request("GET", self.path, params=params, accept=self._accept_list)
            except APIError as e:
                if e.code == 410 and token:
                    # The snapshot behind the continue token was compacted: start the list over.
                    items, token = [], ""
                    continue
                raise
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                break
        self.lists += 1
        self._replace([self._transformed(o) for o in items], str(meta.get("resourceVersion") or ""))

    async def _watch(self) -> tuple[bool, bool]:
        """Follow the watch until the server ends it: (any event seen, ended quickly)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        seen = False
        async for ev in self.client.watch(self.path, self.resource_version, self.watch_timeout(),
                                          accept=self._accept_watch, **self._params):
            seen = True
            self._apply(ev)
        return seen, loop.time() - started < 1.0

    def _apply(self, ev: Obj) -> None:
        type_, obj = ev.get("type"), ev.get("object") or {}
        if type_ == "ERROR":
            code = int(obj.get("code") or 0)
            message = obj.get("message") or f"watch error {code}"
            if code == 410:
                raise Expired(message)
            raise Expired(f"watch ERROR {code}: {message}")  # anything else: start over from a list
        rv = resource_version(obj)
        if type_ == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        obj = self._transformed(obj)
        if type_ in ("ADDED", "MODIFIED"):
            self._store(obj)
        elif type_ == "DELETED":
            self._remove(object_key(obj), obj)
        if rv:
            self.resource_version = rv

    def _transformed(self, obj: Obj) -> Obj:
        return self.transform(obj) if self.transform is not None else obj

    # -- cache mutation (always followed by handler calls) ------------------------

    def _replace(self, items: list[Obj], rv: str) -> None:
        fresh = {object_key(o): o for o in items}
        for key in [k for k in self._items if k not in fresh]:
            self._remove(key, self._items[key])
        for obj in fresh.values():
            self._store(obj, only_if_changed=True)
        self.resource_version = rv
        self._synced.set()

    def _store(self, obj: Obj, only_if_changed: bool = False) -> None:
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None and only_if_changed and resource_version(old) == resource_version(obj):
            return  # a relist that found it unchanged
        self._items[key] = obj
        self._reindex(key, old, obj)
        for h in self._handlers:
            if old is None and h.on_add is not None:
                self._call(h.on_add, obj)
            elif old is not None and h.on_update is not None:
                self._call(h.on_update, old, obj)

    def _remove(self, key: str, last: Obj) -> None:
        old = self._items.pop(key, None)
        if old is None:
            return  # never seen (e.g. deleted between a list and its watch): nothing to report
        self._reindex(key, old, None)
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, last)

    def _reindex(self, key: str, old: Obj | None, new: Obj | None) -> None:
        for name, func in self._index_funcs.items():
            index = self._indices[name]
            before = set(func(old)) if old is not None else set()
            after = set(func(new)) if new is not None else set()
            for value in before - after:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
            for value in after - before:
                index.setdefault(value, set()).add(key)

    def _call(self, handler: Callable[..., None], *args: Obj) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, handler)

    async def _resync_loop(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            for obj in list(self._items.values()):
                for h in self._handlers:
                    if h.on_update is not None:
                        self._call(h.on_update, obj, obj)
