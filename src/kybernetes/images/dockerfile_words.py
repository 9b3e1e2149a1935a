"""Word-level helpers of the Dockerfile front end: the builder's shell lexer and friends.

Docker's builder does not run a shell to expand ``$VAR`` in ``ENV``, ``COPY`` and
the like; it has its own small lexer that imitates ``sh`` word processing.  This
module is our rendition of that lexer, written from the observed behaviour:

* :class:`ShellLex` processes one word: single quotes keep text literal, double
  quotes allow ``$`` expansion and a few escapes (``\\"``, ``\\$``, the escape
  token itself), the escape token outside quotes takes the next character
  literally, and ``$NAME``, ``${NAME}``, ``${NAME:-x}``, ``${NAME-x}``,
  ``${NAME:+x}``, ``${NAME+x}``, ``${NAME:?msg}``, ``${NAME?msg}``,
  ``${NAME#pat}``/``##``, ``${NAME%pat}``/``%%`` and ``${NAME/pat/repl}``/``//``
  are expanded.  ``process_word`` returns the processed text with its spaces,
  ``process_words`` splits it into words (spaces that came out of a variable
  split words too, like an unquoted shell expansion).
* :func:`suggest` picks a "did you mean" candidate (Levenshtein distance
  below 3, like Docker), :func:`go_quote` renders Go's ``%q``, and
  :func:`is_go_space`/:func:`go_trim_space` use Go's idea of whitespace.

Pure: no I/O, no global state.  Errors are :class:`WordError` with Docker's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "ShellLex",
    "WordError",
    "go_quote",
    "go_trim_space",
    "is_go_space",
    "levenshtein",
    "suggest",
]


class WordError(ValueError):
    """A word could not be processed; ``str()`` is Docker's message."""


# Go's unicode.IsSpace: Latin-1 spaces plus the Unicode White_Space characters.
_GO_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def is_go_space(ch: str) -> bool:
    """``unicode.IsSpace`` of Go (Python's ``isspace`` also counts \\x1c-\\x1f)."""
    return ch in _GO_SPACES


def go_trim_space(s: str) -> str:
    """``strings.TrimSpace``."""
    start, end = 0, len(s)
    while start < end and s[start] in _GO_SPACES:
        start += 1
    while end > start and s[end - 1] in _GO_SPACES:
        end -= 1
    return s[start:end]


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """Go's ``%q`` (``strconv.Quote``) for the characters Dockerfiles contain."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# --- the shell lexer ---------------------------------------------------------------------------------

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class _Scanner:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos < len(self.text):
            self.pos += 1
            return self.text[self.pos - 1]
        return _EOF


class _Words:
    """Word splitting that mirrors what an unquoted shell expansion does."""

    __slots__ = ("buf", "in_word", "words")

    def __init__(self) -> None:
        self.buf = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_go_space(ch):
            if self.in_word and self.buf:
                self.words.append(self.buf)
                self.buf = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf += ch
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.buf += s
        self.in_word = True

    def result(self) -> list[str]:
        if self.buf:
            self.words.append(self.buf)
            self.buf = ""
            self.in_word = False
        return self.words


class ShellLex:
    """Docker's builder lexer: quote removal and variable expansion of one word.

    ``escape`` is the Dockerfile escape token (``\\`` or a backtick).  The flags
    select the variants Docker uses internally: ``raw_quotes``/``raw_escapes``
    keep quotes and escape tokens in the output (heredoc detection),
    ``skip_process_quotes`` treats quotes as plain text (heredoc bodies),
    ``skip_unset_env`` leaves references to unset variables as written.
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """The word with quotes removed and variables expanded; inner spaces kept."""
        return _ShellWord(self, word, env).run()[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Like :meth:`process_word`, then split on unquoted whitespace."""
        return _ShellWord(self, word, env).run()[1]


class _ShellWord:
    def __init__(self, lex: ShellLex, word: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.source = word
        self.env = env
        self.scan = _Scanner(word)
        self.raw_escapes = lex.raw_escapes

    def run(self) -> tuple[str, list[str]]:
        try:
            return self.process_stop_on(_EOF, self.raw_escapes)
        except WordError as err:
            raise WordError(f"failed to process {go_quote(self.source)}: {err}") from None

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            while self.scan.peek() != _EOF:
                ch = self.scan.peek()
                if stop != _EOF and ch == stop:
                    self.scan.next()
                    return "".join(result), words.result()
                special = ch == "$" or ch == "<" or (ch in "'\"" and not self.lex.skip_process_quotes)
                if special:
                    if ch == "$":
                        tmp = self.process_dollar()
                        words.add_string(tmp)
                    else:
                        if ch == "<":
                            tmp = self.process_possible_heredoc()
                        elif ch == "'":
                            tmp = self.process_single_quote()
                        else:
                            tmp = self.process_double_quote()
                        words.add_raw_string(tmp)
                    result.append(tmp)
                    continue
                ch = self.scan.next()
                if ch == self.lex.escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.scan.next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
            if stop != _EOF:
                raise WordError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.result()
        finally:
            self.raw_escapes = saved

    def process_single_quote(self) -> str:
        out: list[str] = []
        ch = self.scan.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.scan.next()
            if ch == _EOF:
                raise WordError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        out: list[str] = []
        ch = self.scan.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            peek = self.scan.peek()
            if peek == _EOF:
                raise WordError("unexpected end of statement while looking for matching double-quote")
            if peek == '"':
                ch = self.scan.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if peek == "$":
                out.append(self.process_dollar())
                continue
            ch = self.scan.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self.scan.peek()
                if nxt == _EOF:
                    continue  # an escape at the very end is dropped; the loop then reports the open quote
                if nxt in ('"', "$", self.lex.escape):
                    ch = self.scan.next()
            out.append(ch)

    def process_possible_heredoc(self) -> str:
        self.scan.next()
        if self.scan.peek() != "<":
            return "<"
        self.scan.next()
        space: list[str] = []
        while self.scan.peek() in ("\t", "\r", " "):
            space.append(self.scan.next())
        return "<<" + "".join(space)

    def process_name(self) -> str:
        name: list[str] = []
        while self.scan.peek() != _EOF:
            ch = self.scan.peek()
            if not name and ch.isdecimal():
                while self.scan.peek() != _EOF and self.scan.peek().isdecimal():
                    name.append(self.scan.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return self.scan.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(self.scan.next())
        return "".join(name)

    def get_env(self, name: str) -> str | None:
        return self.env.get(name)

    def process_dollar(self) -> str:
        self.scan.next()  # the "$"
        if self.scan.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value = self.get_env(name)
            if value is None:
                return "$" + name if self.lex.skip_unset_env else ""
            return value

        self.scan.next()  # the "{"
        first = self.scan.peek()
        if first == _EOF:
            raise WordError("syntax error: missing '}'")
        if first in "{}:":
            raise WordError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.scan.next()
        chs = ch if ch != _EOF else "\ufffd"
        if ch == "}":
            value = self.get_env(name)
            if value is None:
                return "${" + name + "}" if self.lex.skip_unset_env else ""
            return value
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.scan.next()
            chs += ch if ch != _EOF else "\ufffd"
        elif ch == "/":
            return self.process_replace(name)
        elif ch not in ("+", "-", "?", "#", "%") or ch == _EOF:
            raise WordError(f"unsupported modifier ({chs}) in substitution")

        raw = ch in ("#", "%") and ch != _EOF
        if null_is_unset and raw:
            raise WordError(f"unsupported modifier ({chs}) in substitution")
        try:
            word, _ = self.process_stop_on("}", raw)
        except WordError:
            if self.scan.peek() == _EOF:
                raise WordError("syntax error: missing '}'") from None
            raise
        value = self.get_env(name)
        is_set = value is not None
        if not is_set and self.lex.skip_unset_env:
            return "${" + name + chs + word + "}"
        value = value or ""
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not is_set:
                raise WordError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise WordError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise WordError(f"unsupported modifier ({chs}) in substitution")

    def process_replace(self, name: str) -> str:
        replace_all = self.scan.peek() == "/"
        if replace_all:
            self.scan.next()
        try:
            pattern, _ = self.process_stop_on("/", True)
        except WordError:
            if self.scan.peek() == _EOF:
                raise WordError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.process_stop_on("}", True)
        except WordError:
            if self.scan.peek() == _EOF:
                raise WordError("syntax error: missing '}'") from None
            raise
        value = self.get_env(name)
        if value is None:
            if self.lex.skip_unset_env:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            value = ""
        try:
            regex = _shell_pattern_regex(pattern, greedy=True, anchored=False)
        except WordError as err:
            raise WordError(f"invalid pattern ({pattern}) in substitution: {err}") from None
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        return regex.sub(lambda _m: replacement, value, count=1)


def _shell_pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*``, ``?``, backslash escapes; no brackets) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue  # the escape belonged to the ${} syntax, not to the pattern
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise WordError(f"invalid escape '\\{nxt or chr(0xFFFD)}'")
            out.append(re.escape(nxt))
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    try:
        regex = _shell_pattern_regex(pattern, greedy=greedy, anchored=True)
    except WordError as err:
        raise WordError(f"invalid pattern ({pattern}) in substitution: {err}") from None
    m = regex.search(value)
    return value[m.end() :] if m else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each ``\\x`` escape pair in order."""
    pairs: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pairs.append(pattern[i : i + 2])
            i += 2
        else:
            pairs.append(pattern[i])
            i += 1
    return "".join(reversed(pairs))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds leftmost matches only: reverse both so the suffix becomes a prefix.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


# --- suggestions ---------------------------------------------------------------------------------------


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _match_case(option: str, original: str) -> str:
    if original == original.lower():
        return option.lower()
    if original == original.upper():
        return option.upper()
    return option


def suggest(value: str, options: Iterable[str], *, case_sensitive: bool) -> str | None:
    """The closest option at edit distance below 3, or None (also None on an exact match)."""
    needle = value if case_sensitive else value.lower()
    best: str | None = None
    best_distance = 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == needle:
            return None
        distance = levenshtein(needle, candidate)
        if distance < best_distance:
            best = candidate if case_sensitive else _match_case(candidate, value)
            best_distance = distance
    return best
