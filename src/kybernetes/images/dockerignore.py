""".dockerignore: which files of a build context are sent to the builder.

Docker's rules, reproduced from their observed behaviour:

* reading: a UTF-8 BOM is dropped; a line whose *first character* is ``#``
  is a comment; other lines are trimmed, blank ones skipped; ``!`` marks an
  exception (re-inclusion); each pattern is cleaned like Go's
  ``filepath.Clean`` and a leading ``/`` is dropped (patterns are relative to
  the context root either way);
* a pattern is Go ``filepath.Match`` syntax (``*`` and ``?`` never cross a
  ``/``, ``[...]`` classes, ``\\`` escapes) plus ``**``, which matches any
  number of directories, zero included; a malformed pattern is an error;
* a path is excluded when the *last* pattern matching it, or matching one of
  its parent directories, is not an exception (later patterns win);
* an excluded directory excludes its whole content, unless some exception
  pattern could match something below it: then Docker still walks it and
  decides file by file;
* the Dockerfile and ``.dockerignore`` themselves are sent anyway (Docker
  appends ``!Dockerfile`` and ``!.dockerignore`` exceptions);
  :meth:`DockerIgnore.walk` does the same unless ``keep_build_files=False``.

:class:`DockerIgnore` is pure; only :meth:`DockerIgnore.walk` reads the file
system, and it never follows a symbolic link (a link is reported as a link,
so nothing outside the context is ever reached through one).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["ContextEntry", "DockerIgnore", "DockerIgnoreError", "IgnorePattern", "go_clean", "read_patterns"]

_BOM = "\ufeff"
_SPACES = "\t\n\v\f\r \x85\xa0"
_ESCAPED = frozenset(".+()|{}$")


class DockerIgnoreError(ValueError):
    """A .dockerignore Docker would refuse (``str()`` is Docker's message)."""


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: the shortest equivalent slash path ("" -> ".")."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(comp)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, normalised as Docker reads them (``!`` kept)."""
    patterns = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        line = line.removesuffix("\r")
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        pattern = line.strip(_SPACES)
        if pattern == "":
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip(_SPACES)
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _check_syntax(pattern: str) -> None:
    """Refuse what Go's ``filepath.Match`` calls a malformed pattern."""
    bad = DockerIgnoreError("syntax error in pattern")

    def class_char(i: int) -> int:
        if i >= len(pattern) or pattern[i] in "-]":
            raise bad
        if pattern[i] == "\\":
            i += 1
            if i >= len(pattern):
                raise bad
        if i + 1 >= len(pattern):
            raise bad  # the class never closes
        return i + 1

    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise bad
            i += 2
        elif ch == "[":
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            ranges = 0
            while True:
                if i < len(pattern) and pattern[i] == "]" and ranges > 0:
                    i += 1
                    break
                i = class_char(i)
                if pattern[i] == "-":
                    i = class_char(i + 1)
                ranges += 1
        else:
            i += 1


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    """Docker's matcher for one cleaned pattern: ``(kind, regex)``, kind exact/prefix/suffix/regexp."""
    out = ["^"]
    kind = "exact"
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        first = i == 0
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1  # "**/" is "**"
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regexp"
                else:
                    out.append("(.*/)?")
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                out.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            out.append("[^/]")
            kind = "regexp"
        elif ch in _ESCAPED:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
                kind = "regexp"
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = "regexp"
        else:
            out.append(ch)  # regex syntax Go and Python share ("^" anchors, "-" in a class)
    if kind != "regexp":
        return kind, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return kind, re.compile("".join(out) + r"\Z")
        except re.error:
            raise DockerIgnoreError("syntax error in pattern") from None


@dataclass(frozen=True)
class IgnorePattern:
    """One cleaned pattern; ``exclusion`` for a ``!`` exception (it re-includes)."""

    text: str
    exclusion: bool = False
    _kind: str = field(default="exact", repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, line: str) -> IgnorePattern:
        text = go_clean(line.strip(_SPACES))
        exclusion = text.startswith("!")
        if exclusion:
            if len(text) == 1:
                raise DockerIgnoreError('illegal exclusion pattern: "!"')
            text = text[1:]
        _check_syntax(text)
        kind, regex = _compile(text)
        return cls(text=text, exclusion=exclusion, _kind=kind, _regex=regex)

    def matches(self, path: str) -> bool:
        """Does the pattern match this (clean, relative, slash-separated) path itself?"""
        if self._kind == "exact":
            return path == self.text
        if self._kind == "prefix":
            return path.startswith(self.text[:-2])
        if self._kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self._regex is not None
        return self._regex.match(path) is not None

    def matches_or_parent(self, path: str) -> bool:
        if self.matches(path):
            return True
        parts = path.split("/")[:-1]
        return any(self.matches("/".join(parts[: i + 1])) for i in range(len(parts)))


@dataclass(frozen=True)
class ContextEntry:
    """A file, directory or symbolic link of the build context that is sent to the builder."""

    path: str  # relative to the context root, slash-separated
    is_dir: bool = False
    is_symlink: bool = False


def _component_matches(pattern: str, name: str) -> bool:
    try:
        kind, regex = _compile(pattern)
    except DockerIgnoreError:
        return True
    if regex is None:
        return name == pattern if kind == "exact" else True
    return regex.match(name) is not None


@dataclass(frozen=True)
class DockerIgnore:
    """The patterns of a .dockerignore file, in order (the last matching one decides)."""

    patterns: tuple[IgnorePattern, ...] = ()

    @classmethod
    def from_text(cls, text: str) -> DockerIgnore:
        return cls.from_patterns(read_patterns(text))

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> DockerIgnore:
        return cls(tuple(IgnorePattern.parse(p) for p in patterns if p.strip(_SPACES)))

    @property
    def has_exceptions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def excludes(self, relpath: str, is_dir: bool = False) -> bool:
        """Is this context path left out?  (Docker's patterns treat files and directories alike.)"""
        path = go_clean(relpath.replace(os.sep, "/")).lstrip("/")
        if path in ("", "."):
            return False
        excluded = False
        for pattern in self.patterns:
            # an exception only matters once something matched; an exclusion only while nothing did
            if pattern.exclusion != excluded:
                continue
            if pattern.matches_or_parent(path):
                excluded = not pattern.exclusion
        return excluded

    def may_include_below(self, reldir: str) -> bool:
        """Could an exception re-include something inside this (excluded) directory?"""
        dir_parts = go_clean(reldir).lstrip("/").split("/")
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            parts = pattern.text.split("/")
            for i, part in enumerate(parts):
                if "**" in part or i >= len(dir_parts):
                    return True
                if not _component_matches(part, dir_parts[i]):
                    break
            else:
                return True
        return False

    def with_build_files(self, dockerfile: str | None = "Dockerfile") -> DockerIgnore:
        """These patterns plus Docker's exceptions for the Dockerfile and .dockerignore, if excluded."""
        extra = []
        for name in (".dockerignore", dockerfile):
            if name and self.excludes(name):
                extra.append(IgnorePattern.parse("!" + go_clean(name).lstrip("/")))
        return DockerIgnore(self.patterns + tuple(extra))

    def walk(self, root: str | os.PathLike[str], *, dockerfile: str | None = "Dockerfile",
             keep_build_files: bool = True) -> Iterator[ContextEntry]:
        """The entries of the context directory ``root`` that are sent, in sorted order.

        Symbolic links are reported, never followed.  Directories are reported
        when they are included themselves; an excluded directory walked only for
        its exceptions is not (its included content implies it).
        """
        rules = self.with_build_files(dockerfile) if keep_build_files else self
        yield from rules._walk(os.fspath(root), "")

    def _walk(self, top: str, rel_dir: str) -> Iterator[ContextEntry]:
        with os.scandir(os.path.join(top, rel_dir) if rel_dir else top) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            is_link = entry.is_symlink()
            is_dir = not is_link and entry.is_dir(follow_symlinks=False)
            if self.excludes(rel, is_dir):
                if is_dir and self.may_include_below(rel):
                    yield from self._walk(top, rel)
                continue
            yield ContextEntry(rel, is_dir=is_dir, is_symlink=is_link)
            if is_dir:
                yield from self._walk(top, rel)
