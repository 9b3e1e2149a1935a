"""Getting a container's image onto the node: ``imagePullPolicy`` against the node's image store and registries.

`decide` is the pure half: from the policy, whether the image is already in the store and whether its registry may
be contacted, it says what to do:

* ``Never``: use the local image, or fail with ``ErrImageNeverPull``;
* ``IfNotPresent``: use the local image, or pull;
* ``Always``: pull (the registry resolves the tag; unchanged layers are not fetched again).

A node started ``--offline`` contacts no registry beyond this machine (loopback registries stay allowed), so there
``Always`` and ``IfNotPresent`` both use the store and a missing image is ``ErrImagePull``.  One deliberate
difference from upstream: when ``Always`` cannot reach the registry at all (DNS failure, refused or timed-out
connection — not a 404 or a denial) and the store has the image, the local copy is used.  A machine without
internet keeps running what it built (``kubectl run --image=busybox`` defaults to ``Always``), as a node that
pulled earlier keeps running its cached image after the registry goes away.  Such a registry is remembered as
unreachable for `UNREACHABLE_FOR` seconds, so the pods that follow do not each wait for the same failed connection.

`ImagePuller` is the thin "do" half: it pulls with `kybernetes.images.registry` (one pull per reference at a time,
however many pods wait for it), uses the pod's ``imagePullSecrets`` (``kubernetes.io/dockerconfigjson`` and
``.dockercfg``) before the node's own Docker config, applies upstream's per-pod pull back-off
(``ImagePullBackOff``) and returns the kubelet's events in upstream's words (``Pulling``, ``Pulled``, ``Failed``,
``BackOff``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.images import reference, registry
from kybernetes.images.auth import Credentials, credentials_from_config
from kybernetes.images.store import Image, ImageError, ImageNotFound, ImageStore

from . import backoff

Obj = dict[str, Any]
Fetch = Callable[[str, str], Awaitable[Obj | None]]  # ("secrets", name) -> the Secret or None
PullFn = Callable[..., Awaitable[Image]]
Event = tuple[str, str, str]  # (type, reason, message)
UNREACHABLE_FOR = 60.0


class Action(enum.Enum):
    USE_LOCAL = "use-local"
    PULL = "pull"
    NEVER_MISSING = "never-missing"
    OFFLINE_MISSING = "offline-missing"


def decide(policy: str, present: bool, may_contact: bool) -> Action:
    """What to do for a container's image (pure)."""
    if policy == "Never":
        return Action.USE_LOCAL if present else Action.NEVER_MISSING
    if policy == "Always" and may_contact:
        return Action.PULL
    if present:
        return Action.USE_LOCAL
    return Action.PULL if may_contact else Action.OFFLINE_MISSING


def may_contact(registry_host: str, offline: bool) -> bool:
    return not offline or registry.is_insecure_host(registry_host)


def pull_secret_credentials(secret: Mapping[str, Any], registry_host: str) -> Credentials | None:
    """Credentials for ``registry_host`` in an image pull secret (dockerconfigjson or the older dockercfg)."""
    data = secret.get("data") or {}
    for key, wrapped in ((".dockerconfigjson", False), (".dockercfg", True)):
        raw = data.get(key)
        if not raw:
            continue
        try:
            doc = orjson.loads(base64.b64decode(raw))
        except (binascii.Error, ValueError):
            continue
        if isinstance(doc, dict):
            creds = credentials_from_config({"auths": doc} if wrapped else doc, registry_host)
            if creds is not None:
                return creds
    return None


def go_seconds(seconds: float) -> str:
    """A duration as Go prints a ``time.Duration`` under a minute (``1.234s``, ``532ms``)."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


class PullFailed(Exception):
    """The container waits with ``reason``/``message``; nothing was started."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Outcome:
    image: Image
    events: list[Event] = field(default_factory=list)


class ImagePuller:
    def __init__(self, store: ImageStore, *, offline: bool = False, pull: PullFn = registry.pull,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.offline = offline
        self._pull = pull
        self._clock = clock
        self.backoff = backoff.ImagePullBackOff()
        self._locks: dict[str, asyncio.Lock] = {}
        self._unreachable: dict[str, float] = {}  # registry host -> when it last could not be reached (clock)

    def _local(self, ref: str) -> Image | None:
        try:
            return self.store.resolve(ref)
        except ImageNotFound:
            return None

    async def ensure(self, pod: Obj, container: Obj, now: float, fetch: Fetch) -> Outcome:
        """The container's image, pulled if the policy says so; raises `PullFailed` with the waiting state."""
        ref = container.get("image", "")
        policy = container.get("imagePullPolicy") or "IfNotPresent"
        uid = pod["metadata"]["uid"]
        try:
            parsed = reference.parse(ref)
            local = self._local(ref)
        except (reference.ReferenceError_, ImageError) as e:
            raise PullFailed("InvalidImageName", f'Failed to apply default image tag "{ref}": {e}') from None
        host = parsed.registry_host
        down = self._clock() - self._unreachable.get(host, -UNREACHABLE_FOR) < UNREACHABLE_FOR
        action = decide(policy, local is not None, may_contact(host, self.offline) and not (down and local))
        present = f'Container image "{ref}" already present on machine'
        if action is Action.USE_LOCAL:
            assert local is not None
            return Outcome(local, [("Normal", "Pulled", present)])
        if action is Action.NEVER_MISSING:
            message = f'Container image "{ref}" is not present with pull policy of Never'
            raise PullFailed("ErrImageNeverPull", message)
        gate = self.backoff.check(uid, ref, now)
        if not gate.allowed:
            raise PullFailed(gate.reason, gate.message)
        if action is Action.OFFLINE_MISSING:
            error = ("the node is offline (--offline) and the image is not in its image store "
                     "(kyb build, kyb load or kyb pull it there)")
            self.backoff.failed(uid, ref, now)
            raise PullFailed(backoff.ERR_IMAGE_PULL, backoff.pull_failed_message(ref, error))
        events: list[Event] = [("Normal", "Pulling", f'Pulling image "{ref}"')]
        waited = self._clock()
        try:
            async with self._locks.setdefault(ref, asyncio.Lock()):
                started = self._clock()
                image = await self._pull(self.store, ref, auth=await self._credentials(pod, parsed, fetch))
        except registry.RegistryError as e:
            if e.unreachable:
                self._unreachable[host] = self._clock()
            if local is not None and e.unreachable:
                return Outcome(local, [*events, ("Normal", "Pulled", present)])
            self.backoff.failed(uid, ref, now)
            raise PullFailed(backoff.ERR_IMAGE_PULL, backoff.pull_failed_message(ref, str(e))) from None
        finally:
            lock = self._locks.get(ref)
            if lock is not None and not lock.locked():
                self._locks.pop(ref, None)
        self.backoff.succeeded(uid, ref, now)
        done = self._clock()
        events.append(("Normal", "Pulled", f'Successfully pulled image "{ref}" in {go_seconds(done - started)} '
                                           f"({go_seconds(done - waited)} including waiting). "
                                           f"Image size: {image.size} bytes."))
        return Outcome(image, events)

    async def _credentials(self, pod: Obj, parsed: reference.Reference, fetch: Fetch) -> Credentials | None:
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            secret = await fetch("secrets", ref.get("name", ""))
            creds = pull_secret_credentials(secret, parsed.registry_host) if secret else None
            if creds is not None:
                return creds
        return None  # registry.pull falls back to the node's Docker config
