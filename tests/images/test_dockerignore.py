""".dockerignore: reading, matching with Docker's rules, and walking a context directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kybernetes.images.dockerignore import (
    ContextEntry,
    DockerIgnore,
    DockerIgnoreError,
    go_clean,
    read_patterns,
)


def case(*values: object, id: str) -> object:
    return pytest.param(*values, id=id)


@pytest.mark.parametrize(("text", "patterns"), [
    case("node_modules\n*.log\n", ["node_modules", "*.log"], id="plain"),
    case("# comment\nbuild\n", ["build"], id="comment"),
    case("  # indented is a pattern\n", ["# indented is a pattern"], id="indented-hash-is-pattern"),
    case("\n\n  \nx\n", ["x"], id="blank-lines"),
    case("  spaced  \n", ["spaced"], id="trimmed"),
    case("/abs/path\n", ["abs/path"], id="leading-slash"),
    case("dir/\n", ["dir"], id="trailing-slash"),
    case("./a/../b//c/.\n", ["b/c"], id="cleaned"),
    case("! keep/me/\n", ["!keep/me"], id="exception-cleaned"),
    case("!/abs\n", ["!abs"], id="exception-leading-slash"),
    case("\ufeffbom\n", ["bom"], id="byte-order-mark"),
    case("a\r\nb\r\n", ["a", "b"], id="crlf"),
    case("/\n", ["/"], id="root-stays"),
])
def test_read_patterns(text: str, patterns: list[str]) -> None:
    assert read_patterns(text) == patterns


@pytest.mark.parametrize(("path", "cleaned"), [
    case("", ".", id="empty"),
    case("a/./b", "a/b", id="dot"),
    case("a/../../b", "../b", id="dotdot-relative"),
    case("/../a", "/a", id="dotdot-rooted"),
    case("//a//b/", "/a/b", id="slashes"),
])
def test_go_clean(path: str, cleaned: str) -> None:
    assert go_clean(path) == cleaned


@pytest.mark.parametrize(("pattern", "path", "excluded"), [
    case("*", "file.go", True, id="star"),
    case("*", "dir/file.go", True, id="star-matches-parent-dir"),
    case("*.go", "main.go", True, id="suffix-glob"),
    case("*.go", "cmd/main.go", False, id="glob-does-not-cross-slash"),
    case("*/*.go", "cmd/main.go", True, id="one-level"),
    case("**/*.go", "a/b/c/main.go", True, id="double-star-any-depth"),
    case("**/*.go", "main.go", True, id="double-star-zero-dirs"),
    case("**/vendor", "x/vendor/lib/a.c", True, id="double-star-dir-content"),
    case("**", "anything/at/all", True, id="double-star-alone"),
    case("a/**", "a", False, id="trailing-double-star-not-dir-itself"),
    case("a/**", "a/b/c", True, id="trailing-double-star-content"),
    case("a/**/b", "a/b", True, id="middle-double-star-zero"),
    case("a/**/b", "a/x/y/b", True, id="middle-double-star-many"),
    case("**file", "dir/somefile", True, id="double-star-prefix-no-slash"),
    case("file?.txt", "file1.txt", True, id="question-mark"),
    case("file?.txt", "file10.txt", False, id="question-mark-one-char"),
    case("dir?x", "dir/x", False, id="question-not-slash"),
    case("[abc].txt", "b.txt", True, id="class"),
    case("[a-c].txt", "d.txt", False, id="class-range-miss"),
    case("[^a-c].txt", "d.txt", True, id="negated-class"),
    case("a\\*b", "a*b", True, id="escaped-star"),
    case("a\\*b", "axb", False, id="escaped-star-literal"),
    case("abc.def", "abcxdef", False, id="dot-is-literal"),
    case("a+(b)|c$", "a+(b)|c$", True, id="regex-chars-literal"),
    case("docs", "docs/README.md", True, id="directory-content"),
    case("docs", "docs", True, id="directory-itself"),
    case("docs", "mydocs", False, id="no-partial-name"),
    case(".git", ".git/objects/ab", True, id="dot-dir"),
    case("/build", "build/out", True, id="leading-slash-root-relative"),
    case("build/", "build/out", True, id="trailing-slash-cleaned"),
    case("*.md", "./README.md", True, id="path-cleaned"),
    case("*", ".", False, id="root-never-excluded"),
])
def test_single_pattern(pattern: str, path: str, excluded: bool) -> None:
    assert DockerIgnore.from_text(pattern).excludes(path) is excluded


@pytest.mark.parametrize(("text", "path", "excluded"), [
    case("*.md\n!README.md", "README.md", False, id="exception"),
    case("*.md\n!README.md", "CHANGES.md", True, id="exception-other"),
    case("!README.md\n*.md", "README.md", True, id="last-match-wins"),
    case("docs\n!docs/README.md", "docs/README.md", False, id="exception-inside-excluded-dir"),
    case("docs\n!docs/README.md", "docs/other.md", True, id="sibling-stays-excluded"),
    case("docs/*\n!docs/keep", "docs/keep/deep/file", False, id="exception-dir-content"),
    case("**\n!src", "src/main.py", False, id="exclude-all-but-src"),
    case("**\n!src", "setup.py", True, id="exclude-all-else"),
    case("**\n!src\nsrc/*.pyc", "src/x.pyc", True, id="re-exclude-after-exception"),
    case("**\n!*.go\n!cmd", "cmd/app/main.go", False, id="several-exceptions"),
    case("node_modules\n!node_modules", "node_modules/x", False, id="exception-of-same-dir"),
    case("a/b\n!a", "a/b/c", False, id="exception-on-parent-after"),
    case("!a\na/b", "a/b/c", True, id="exclusion-after-parent-exception"),
])
def test_exceptions(text: str, path: str, excluded: bool) -> None:
    assert DockerIgnore.from_text(text).excludes(path) is excluded


@pytest.mark.parametrize(("text", "directory", "walk"), [
    case("docs", "docs", False, id="no-exceptions"),
    case("docs\n!docs/README.md", "docs", True, id="exception-below"),
    case("docs\n!other/README.md", "docs", False, id="exception-elsewhere"),
    case("**\n!src/app/main.py", "src", True, id="deep-exception-first-level"),
    case("**\n!src/app/main.py", "src/app", True, id="deep-exception-second-level"),
    case("**\n!src/app/main.py", "src/lib", False, id="deep-exception-other-branch"),
    case("**\n!**/*.go", "anything", True, id="double-star-exception"),
    case("**\n!*/keep", "x", True, id="wildcard-component"),
])
def test_may_include_below(text: str, directory: str, walk: bool) -> None:
    assert DockerIgnore.from_text(text).may_include_below(directory) is walk


@pytest.mark.parametrize(("text", "message"), [
    case("!", 'illegal exclusion pattern: "!"', id="bare-bang"),
    case("[", "syntax error in pattern", id="open-class"),
    case("a[]b", "syntax error in pattern", id="empty-class"),
    case("a[b-]", "syntax error in pattern", id="open-range"),
    case("trailing\\", "syntax error in pattern", id="trailing-backslash"),
    case("ok\n[z-a]", "syntax error in pattern", id="reversed-range"),
])
def test_bad_patterns(text: str, message: str) -> None:
    with pytest.raises(DockerIgnoreError) as err:
        DockerIgnore.from_text(text)
    assert str(err.value) == message


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    for rel in ("Dockerfile", ".dockerignore", "app.py", "README.md", "docs/guide.md", "docs/keep.md",
                "node_modules/pkg/index.js", "src/main.go", "src/main_test.go", "src/vendor/lib.go"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (root / "empty").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    os.symlink(outside, root / "link-out")
    os.symlink("app.py", root / "link-app")
    return root


def walk(root: Path, text: str, **kwargs: Any) -> list[str]:
    return [e.path + ("/" if e.is_dir else "") + ("@" if e.is_symlink else "")
            for e in DockerIgnore.from_text(text).walk(root, **kwargs)]


ALL = [".dockerignore", "Dockerfile", "README.md", "app.py", "docs/", "docs/guide.md", "docs/keep.md", "empty/",
       "link-app@", "link-out@", "node_modules/", "node_modules/pkg/", "node_modules/pkg/index.js", "src/",
       "src/main.go", "src/main_test.go", "src/vendor/", "src/vendor/lib.go"]


@pytest.mark.parametrize(("text", "kwargs", "expected"), [
    case("", {}, ALL, id="nothing-ignored"),
    case("node_modules\n*.md", {}, [p for p in ALL if not p.startswith("node_modules") and p != "README.md"],
         id="dir-and-glob"),
    case("docs\n!docs/keep.md", {}, [p for p in ALL if not p.startswith("docs")] + ["docs/keep.md"],
         id="exception-inside-excluded-dir"),
    case("**\n!src/**/*.go", {}, [".dockerignore", "Dockerfile", "src/main.go", "src/main_test.go",
                                  "src/vendor/lib.go"],
         id="only-exceptions-and-build-files"),
    case("**\n!src\nsrc/*_test.go", {}, [".dockerignore", "Dockerfile", "src/", "src/main.go", "src/vendor/",
                                        "src/vendor/lib.go"], id="allow-list"),
    case("Dockerfile\n.dockerignore", {}, ALL, id="build-files-always-sent"),
    case("Dockerfile\n.dockerignore", {"keep_build_files": False},
         [p for p in ALL if p not in ("Dockerfile", ".dockerignore")], id="build-files-not-kept"),
    case("*\n", {"dockerfile": "docs/guide.md"}, [".dockerignore", "docs/guide.md"], id="custom-dockerfile-path"),
    case("link-*", {}, [p for p in ALL if not p.startswith("link-")], id="symlinks-excluded-by-name"),
])
def test_walk(context: Path, text: str, kwargs: dict[str, Any], expected: list[str]) -> None:
    assert walk(context, text, **kwargs) == sorted(expected, key=lambda p: p.rstrip("/@").split("/"))


def test_walk_never_follows_symlinks(context: Path) -> None:
    entries = list(DockerIgnore().walk(context))
    assert ContextEntry("link-out", is_dir=False, is_symlink=True) in entries
    assert not any(e.path.startswith("link-out/") for e in entries)


def test_exceptions_flag() -> None:
    assert DockerIgnore.from_text("a\n!b").has_exceptions
    assert not DockerIgnore.from_text("a\nb").has_exceptions


def test_with_build_files_only_adds_what_is_excluded() -> None:
    rules = DockerIgnore.from_text("*.md\nDockerfile").with_build_files()
    assert [p.text for p in rules.patterns if p.exclusion] == ["Dockerfile"]
