"""Image references, parsed and normalized the way Docker does.

``busybox`` means ``docker.io/library/busybox:latest``; ``localhost:5000/app:1`` names a registry because the
first component holds a ``.`` or ``:`` or is ``localhost``; ``name@sha256:<hex>`` pins a digest. The *familiar*
form (``busybox:latest``) is what users see; the *canonical* form is what the store keys on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(
    r"^(?:localhost|(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)  # Go's \w is ASCII-only
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_ID_RE = re.compile(r"^(?:sha256:)?[a-f0-9]{64}$")


class ReferenceError_(ValueError):
    """An unparseable reference; the message is Docker's."""


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """``busybox`` for ``docker.io/library/busybox``; ``localhost:5000/app`` stays whole."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith("library/") and self.path.count("/") == 1:
                return self.path[len("library/") :]
            return self.path
        return self.repository

    def __str__(self) -> str:
        """The canonical string: domain/path[:tag][@digest]."""
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar(self) -> str:
        s = self.familiar_repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, "")

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, "", digest)

    @property
    def registry_host(self) -> str:
        """Where to reach the registry: ``docker.io`` is served at ``registry-1.docker.io``."""
        return "registry-1.docker.io" if self.domain == DEFAULT_DOMAIN else self.domain


def parse(ref: str, default_tag: bool = True) -> Reference:
    """Parse and normalize; a bare name gets the ``latest`` tag unless it carries a digest."""
    if not ref or ref != ref.strip():
        raise ReferenceError_("invalid reference format")
    rest, digest = ref, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST_RE.fullmatch(digest):
            raise ReferenceError_("invalid reference format")
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise ReferenceError_("invalid reference format")
    domain, path = DEFAULT_DOMAIN, rest
    first, sep, remainder = rest.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        domain, path = first, remainder
        if not _DOMAIN_RE.fullmatch(domain):
            raise ReferenceError_("invalid reference format")
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if path != path.lower() and _PATH_RE.fullmatch(path.lower()):
        raise ReferenceError_("invalid reference format: repository name must be lowercase")
    if not _PATH_RE.fullmatch(path):
        raise ReferenceError_("invalid reference format")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    if len(domain) + 1 + len(path) > 255:
        raise ReferenceError_("invalid reference format: repository name must not be more than 255 characters")
    if not tag and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def looks_like_id(s: str) -> bool:
    """A full image ID (``sha256:<64 hex>`` or the bare hex)."""
    return bool(_ID_RE.fullmatch(s))


def is_short_id(s: str) -> bool:
    """A hex prefix a user may type for an image ID (Docker accepts 1+ chars; we ask for at least 4)."""
    return 4 <= len(s) <= 64 and all(c in "0123456789abcdef" for c in s)
