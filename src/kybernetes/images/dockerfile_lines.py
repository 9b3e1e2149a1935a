"""First pass of the Dockerfile parser: text to logical lines, each split into a raw node.

This owns everything Docker does before it knows what an instruction means:

* parser directives (``# escape=``, ``# syntax=``, ``# check=``) on the first
  lines, until the first line that is not one; a repeated directive is an
  error, ``escape`` must be a backslash or a backtick;
* comments (``#`` as the first non-blank character) and blank lines;
* line continuation with the escape token: the token and the whitespace after
  it are removed, the next line is appended *with* its leading whitespace;
  comment lines inside a continued instruction are dropped, empty ones too
  (with Docker's NoEmptyContinuation warning); a continuation at end of file
  simply ends the instruction;
* the instruction word and its leading ``--flags``;
* the per-instruction argument splitting Docker applies before expansion
  (JSON array or shell text; whitespace words; ``name=value`` words keeping
  their quotes; HEALTHCHECK's type word; ONBUILD's inner instruction);
* heredocs for RUN/COPY/ADD (also under ONBUILD) in shell form: each
  ``<<[-]WORD`` on the line consumes the following lines up to ``WORD``.

Errors here are Docker's lexical errors; they are reported without the
``dockerfile parse error on line N:`` prefix that instruction errors carry.
Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kybernetes.images.dockerfile_model import DockerfileError, Heredoc
from kybernetes.images.dockerfile_words import ShellLex, WordError, go_quote, go_trim_space, is_go_space

__all__ = ["RawNode", "ScanResult", "extract_flags", "parse_json_array", "parse_words", "scan_dockerfile"]

_BOM = "\ufeff"
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)

_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})


class NotStringArrayError(WordError):
    """A JSON array held something other than strings."""


@dataclass
class RawNode:
    """One logical instruction line, split but not yet interpreted.

    ``args`` are the argument words as the per-instruction splitter produced
    them; for ENV/LABEL they are in ``pairs`` instead.  ``sub`` is the inner
    instruction of ONBUILD.
    """

    keyword: str
    flags: list[str]
    args: list[str]
    original: str
    line: int
    end_line: int
    json_form: bool = False
    pairs: list[tuple[str, str]] = field(default_factory=list)
    legacy: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: RawNode | None = None


@dataclass
class ScanResult:
    nodes: list[RawNode]
    escape: str
    warnings: list[str]


# --- splitters -----------------------------------------------------------------------------------------


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes for the lexer (ENV, LABEL, ARG)."""
    words: list[str] = []
    buf: list[str] = []
    in_quote = ""  # the open quote character, or "" outside quotes
    blank_ok = False  # a quoted empty string still makes a word
    started = False
    pos, n = 0, len(rest)
    while pos < n:
        ch = rest[pos]
        if not started:
            if is_go_space(ch):
                pos += 1
                continue
            started = True
        if not in_quote:
            if is_go_space(ch):
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok, started = [], False, False
                pos += 1
                continue
            if ch in ("'", '"'):
                in_quote, blank_ok = ch, True
            elif ch == escape:
                if pos + 1 == n:
                    break  # an escape token at the end of the line is dropped
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if ch == in_quote:
            in_quote = ""
        elif ch == escape and in_quote != "'":
            if pos + 1 == n:
                break
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    if started and (blank_ok or buf):
        words.append("".join(buf))
    return words


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Split leading ``--flag[=value]`` words off an instruction's arguments.

    Returns ``(rest, flags)``.  Quotes inside flag words are removed, the
    escape token takes the next character literally, a bare ``--`` ends the
    flags, and the first word not starting with ``--`` starts ``rest``.
    """
    flags: list[str] = []
    buf: list[str] = []
    in_quote = ""
    blank_ok = False
    in_word = False
    pos, n = 0, len(line)
    while pos < n:
        ch = line[pos]
        if not in_word:
            if is_go_space(ch):
                pos += 1
                continue
            if not line.startswith("--", pos):
                return line[pos:], flags
            in_word = True
        if not in_quote:
            if is_go_space(ch):
                word = "".join(buf)
                if word == "--":
                    return line[pos:], flags
                if blank_ok or word:
                    flags.append(word)
                buf, blank_ok, in_word = [], False, False
                pos += 1
                continue
            if ch in ("'", '"'):
                in_quote, blank_ok = ch, True
                pos += 1
                continue
        elif ch == in_quote:
            in_quote = ""
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == n:
                in_quote = ""
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        buf.append(ch)
        pos += 1
    if in_word:
        word = "".join(buf)
        if word != "--" and (blank_ok or word):
            flags.append(word)
    return "", flags


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # NaN and Infinity are not JSON


def parse_json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array (exec form), or None when ``rest`` is not one (shell form).

    Raises :class:`NotStringArrayError` for a JSON array of anything but strings.
    """
    rest = rest.lstrip("\t\n\v\f\r \x85\xa0")
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise NotStringArrayError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


# --- one logical line -> RawNode -----------------------------------------------------------------------


def _split_whitespace(rest: str) -> list[str]:
    return _WHITESPACE.split(rest) if rest else []


def _name_val(node: RawNode, rest: str, keyword: str, escape: str) -> None:
    words = parse_words(rest, escape)
    if not words:
        return
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise WordError(f"{keyword} must have two arguments")
        node.pairs = [(parts[0], parts[1])]
        node.legacy = True
        return
    for word in words:
        if "=" not in word:
            raise WordError(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value")
        key, _, value = word.partition("=")
        node.pairs.append((key, value))


def _maybe_json(node: RawNode, rest: str) -> None:
    if not rest:
        return
    array = parse_json_array(rest)
    if array is not None:
        node.args, node.json_form = array, True
    else:
        node.args = [rest]


def _maybe_json_to_list(node: RawNode, rest: str) -> None:
    array = parse_json_array(rest)
    if array is not None:
        node.args, node.json_form = array, True
    else:
        node.args = _split_whitespace(rest)


def _health(node: RawNode, rest: str) -> None:
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return
    nxt = sep
    while nxt < len(rest) and is_go_space(rest[nxt]):
        nxt += 1
    _maybe_json(node, rest[nxt:])
    node.args = [rest[:sep], *node.args]


def node_from_line(line: str, escape: str, start: int, end: int) -> RawNode:
    """Split one logical line (continuations joined) into a :class:`RawNode`."""
    parts = _WHITESPACE.split(go_trim_space(line), maxsplit=1)
    keyword = parts[0]
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = extract_flags(parts[1], escape)
    rest = go_trim_space(rest)
    node = RawNode(keyword=keyword, flags=flags, args=[], original=line, line=start, end_line=end)
    kind = keyword.lower()
    if kind in ("add", "copy", "volume"):
        _maybe_json_to_list(node, rest)
    elif kind in ("cmd", "entrypoint", "run", "shell"):
        _maybe_json(node, rest)
    elif kind == "arg":
        node.args = parse_words(rest, escape)
    elif kind in ("env", "label"):
        _name_val(node, rest, keyword.upper(), escape)
    elif kind in ("expose", "from"):
        node.args = _split_whitespace(rest)
    elif kind == "healthcheck":
        _health(node, rest)
    elif kind in ("maintainer", "stopsignal", "user", "workdir"):
        node.args = [rest] if rest else []
    elif kind == "onbuild" and rest:
        node.sub = node_from_line(rest, escape, start, end)
        node.args = [node.sub.keyword, *node.sub.args]
    return node


# --- heredocs -----------------------------------------------------------------------------------------


def parse_heredoc_word(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` opens, or None (content empty)."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    words = ShellLex("\\", skip_unset_env=True).process_words(rest, {})
    if len(words) != 1:
        return None
    raw = ShellLex("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, {})
    if len(raw) != 1:
        raise WordError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=name, content="", chomp=m.group(2) == "-", expand=quotes == raw_quotes,
                   fd=int(m.group(1) or 0))


def _heredocs_in_line(line: str) -> list[Heredoc]:
    lex = ShellLex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except WordError:
        return []
    docs = []
    for word in words:
        doc = parse_heredoc_word(word)
        if doc is not None:
            docs.append(doc)
    return docs


def chomp_heredoc(content: str) -> str:
    return _LEADING_TABS.sub("", content)


def _can_contain_heredoc(node: RawNode) -> bool:
    if node.keyword.lower() == "onbuild" and node.sub is not None:
        node = node.sub
    return node.keyword.lower() in _HEREDOC_KEYWORDS and not node.json_form


# --- the scanner -----------------------------------------------------------------------------------------


class _Directives:
    """Parser directives: only on the first lines, each at most once."""

    def __init__(self) -> None:
        self.done = False
        self.seen: set[str] = set()
        self.escape = "\\"

    def feed(self, line: str) -> bool:
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip("\t\n\v\f\r \x85\xa0"))
        if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
            self.done = True
            return False
        name, value = m.group(1).lower(), m.group(2)
        if name in self.seen:
            raise WordError(f"only one {name} parser directive can be used")
        self.seen.add(name)
        if name == "escape":
            if value not in ("`", "\\"):
                raise WordError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
        return True


def _is_comment(line: str) -> bool:
    return line.lstrip("\t\n\v\f\r \x85\xa0").startswith("#")


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """``(line without the trailing escape token, at_end_of_instruction)``."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        body = stripped[:-1]
        if body == "" or body[-1] != escape:
            return body, False
    return line, True


def scan_dockerfile(text: str) -> ScanResult:
    """Split Dockerfile text into raw nodes (see the module docstring for the rules)."""
    raw_lines = _split_keep_lf(text)
    directives = _Directives()
    nodes: list[RawNode] = []
    warnings: list[str] = []
    i, current = 0, 0

    def process(raw: str, strip_left: bool) -> str:
        token = raw.rstrip("\r\n")
        if strip_left:
            token = token.lstrip("\t\n\v\f\r \x85\xa0")
        try:
            directives.feed(token)
        except WordError as err:
            raise DockerfileError(str(err), current + 1) from None
        return "" if _is_comment(token) else token

    while i < len(raw_lines):
        raw = raw_lines[i]
        if i == 0 and raw.startswith(_BOM):
            raw = raw[1:]
        i += 1
        processed = process(raw, True)
        current += 1
        start = current
        processed, at_end = _trim_continuation(processed, directives.escape)
        if at_end and processed == "":
            continue
        parts = [processed]
        empty_continuation = False
        while not at_end and i < len(raw_lines):
            raw = raw_lines[i]
            i += 1
            piece = process(raw, False)
            current += 1
            if _is_comment(raw):
                continue
            if piece.lstrip("\t\n\v\f\r \x85\xa0") == "":
                empty_continuation = True
                continue
            piece, at_end = _trim_continuation(piece, directives.escape)
            parts.append(piece)
        line = "".join(parts)
        if empty_continuation:
            warnings.append(f"NoEmptyContinuation: Empty continuation line (line {current})")
        try:
            node = node_from_line(line, directives.escape, start, current)
        except WordError as err:
            raise DockerfileError(str(err), start, end_line=current) from None
        if _can_contain_heredoc(node) and "<<" in line:
            try:
                docs = _heredocs_in_line(line)
            except WordError as err:
                raise DockerfileError(str(err), start, end_line=current) from None
            for doc in docs:
                body: list[str] = []
                terminated = False
                while i < len(raw_lines):
                    raw = raw_lines[i]
                    i += 1
                    current += 1
                    candidate = raw.rstrip("\r\n")
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    body.append(raw)
                if not terminated:
                    raise DockerfileError("unterminated heredoc", start, end_line=current)
                content = "".join(body)
                node.heredocs.append(Heredoc(doc.name, content, doc.chomp, doc.expand, doc.fd))
        node.end_line = current
        nodes.append(node)
    if not nodes:
        raise DockerfileError("file with no instructions")
    return ScanResult(nodes=nodes, escape=directives.escape, warnings=warnings)


def _split_keep_lf(text: str) -> list[str]:
    """Lines split on "\\n" only (a lone "\\r" is not a line break for Docker), newline kept."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines
