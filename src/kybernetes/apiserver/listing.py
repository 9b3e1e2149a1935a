"""LIST semantics: resourceVersion / resourceVersionMatch, selectors, pagination.

Where a list is served from (as upstream decides in the cacher):

* no ``limit`` and no exact revision: from the watch cache, after it caught up
  with the store (``resourceVersion`` unset: a consistent read), or as it is
  (``"0"``), or once it reached ``N`` (``NotOlderThan``);
* ``limit`` or ``resourceVersionMatch=Exact``: from the backend at one fixed
  revision, page by page, so every page of a paginated list is a consistent
  snapshot; the ``continue`` token carries that revision and the last key.

Selectors filter in both paths; with a selector, a page is filled by reading on
until ``limit`` items matched or the range ends (as etcd3 store does).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.api import conversion, errors
from kybernetes.api.registry import ResourceType
from kybernetes.apiserver.watchcache import WatchCache, decode
from kybernetes.storage.backend import Backend, CompactedError, FutureRevisionError

Filter = Callable[[dict[str, Any]], bool]

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and now "
    "may show up in the list."
)


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


def encode_continue(revision: int, start_after: str) -> str:
    body = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_after})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        rev, start = int(data["rv"]), str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or not 0 < rev < 2**63 or ".." in start:
            raise ValueError
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from None
    return rev, start


def too_old(requested: int, oldest: int) -> errors.StatusError:
    return errors.expired(f"too old resource version: {requested} ({oldest})")


def too_large(requested: int, current: int) -> errors.StatusError:
    return errors.StatusError(
        504, errors.TIMEOUT,
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
         "retryAfterSeconds": 1})


def parse_rv(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if not 0 <= n < 2**63:  # revisions are int64
        raise errors.bad_request(f'invalid resource version "{value}"')
    return n


class Lister:
    def __init__(self, backend: Backend, cache: WatchCache):
        self.backend = backend
        self.cache = cache

    async def list(self, rt: ResourceType, namespace: str | None, keep: Filter, *,
                   limit: int = 0, continue_token: str = "", resource_version: str = "",
                   match: str = "") -> ListResult:
        if match and not resource_version:
            raise errors.invalid("ListOptions", "", [errors.forbidden_field(
                "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided")],
                "meta.k8s.io")
        if match not in ("", "Exact", "NotOlderThan"):
            raise errors.invalid("ListOptions", "", [errors.not_supported(
                "resourceVersionMatch", match, ["Exact", "NotOlderThan"])], "meta.k8s.io")
        if continue_token and resource_version not in ("", "0"):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        prefix = rt.prefix(namespace)
        if continue_token:
            rev, start = decode_continue(continue_token)
            return await self._from_backend(rt, prefix, keep, limit, rev, prefix + start, paged=True)
        if match == "Exact":
            rev = parse_rv(resource_version)
            return await self._from_backend(rt, prefix, keep, limit, rev, None, paged=True)
        if limit > 0 and resource_version in ("",):
            return await self._from_backend(rt, prefix, keep, limit, 0, None, paged=True)
        return await self._from_cache(rt, prefix, keep, limit, resource_version)

    async def _from_cache(self, rt: ResourceType, prefix: str, keep: Filter, limit: int,
                          resource_version: str) -> ListResult:
        if resource_version == "":
            await self.cache.sync()
        elif resource_version != "0":
            want = parse_rv(resource_version)
            if not await self.cache.wait_for(want):
                raise too_large(want, self.cache.revision)
        rev = self.cache.revision
        items = _served(rt, self.cache.items(prefix), keep)
        # Upstream ignores limit for lists served from the cache at RV "0".
        return ListResult(items, str(rev))

    async def _from_backend(self, rt: ResourceType, prefix: str, keep: Filter, limit: int, rev: int,
                            start_after: str | None, paged: bool) -> ListResult:
        out: list[dict[str, Any]] = []
        chunk = max(limit, 1) if limit else 0
        has_more = False
        last_key = ""
        while True:
            try:
                res = await self.backend.range(prefix, start_after=start_after, limit=chunk, revision=rev,
                                               count=False)
            except CompactedError as e:
                if start_after is not None and paged and limit:
                    raise errors.expired(CONTINUE_EXPIRED) from None
                raise too_old(e.requested, e.compacted) from None
            except FutureRevisionError as e:
                raise too_large(e.requested, e.current) from None
            rev = res.revision
            for i, kv in enumerate(res.kvs):
                obj = conversion.from_storage(rt.group, decode(kv))
                if keep(obj):
                    out.append(obj)
                    if limit and len(out) >= limit:
                        last_key = kv.key
                        has_more = res.more or i + 1 < len(res.kvs)
                        break
            else:
                if res.more and res.kvs:
                    start_after = res.kvs[-1].key
                    continue
            break
        result = ListResult(out, str(rev))
        if has_more:
            result.continue_token = encode_continue(rev, last_key[len(prefix):])
        return result


def _served(rt: ResourceType, objs: Iterable[dict[str, Any]], keep: Filter) -> list[dict[str, Any]]:
    if rt.group == "events.k8s.io":
        objs = (conversion.from_storage(rt.group, o) for o in objs)
    return [o for o in objs if keep(o)]
