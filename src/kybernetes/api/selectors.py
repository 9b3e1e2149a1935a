"""Label and field selectors: parsing, matching and rendering as upstream does.

Label selectors (``k8s.io/apimachinery/pkg/labels``) come in two forms: the
query-string syntax (``app=web,tier in (a,b),!canary,rev>3``) parsed by
:func:`parse_label_selector`, and the ``metav1.LabelSelector`` object
(``matchLabels`` + ``matchExpressions``) converted by
:func:`label_selector_from_dict`.  Both yield a :class:`LabelSelector` whose
requirements are sorted by key, whose set values are sorted, and whose
``str()`` is upstream's rendering.  Keys must be qualified names and values
label values; violations and syntax errors are 400 BadRequest with upstream's
texts, e.g. ``unable to parse requirement: <nil>: Invalid value: "-a": ...``
(the ``<nil>`` is upstream's: the parser has no field path).

Field selectors (``k8s.io/apimachinery/pkg/fields``) are ``=``, ``==`` and
``!=`` terms joined by commas, with ``\\,``, ``\\=`` and ``\\\\`` escapes in
values; :func:`check_fields` then rejects labels the kind does not support,
with the message its upstream conversion function gives.

Pure module: no I/O.  Selectors are immutable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import StatusError, bad_request
from kybernetes.api.validation.names import is_label_value, is_qualified_name

# selection.Operator values
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)

_INT64 = re.compile(r"[+-]?[0-9]+")


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _invalid(path: str, shown: str, detail: str) -> str:
    """A ``field.Invalid`` error's text; ``shown`` is the already rendered value."""
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """``utilerrors.Aggregate``: one message bare, several bracketed, duplicates dropped."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key``, an operator from this module, its values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, present = self.operator, self.key in labels
        if op in (IN, EQUALS, DOUBLE_EQUALS, NOT_IN, NOT_EQUALS):
            hit = present and labels[self.key] in self.values
            return hit if op in (IN, EQUALS, DOUBLE_EQUALS) else not hit
        if op in (EXISTS, DOES_NOT_EXIST):
            return present == (op == EXISTS)
        have = _parse_int64(labels.get(self.key))
        want = _parse_int64(self.values[0]) if len(self.values) == 1 else None
        if have is None or want is None or op not in (GREATER_THAN, LESS_THAN):
            return False
        return have > want if op == GREATER_THAN else have < want

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        # sorted on output only, so a selector's own order is never disturbed
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{values}"


def _parse_int64(text: str | None) -> int | None:
    if text is None or not _INT64.fullmatch(text) or len(text.lstrip("+-").lstrip("0")) > 19:
        return None  # (a longer number is out of range, and more than int() converts)
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


_ANY = range(1, 2**31)
# operators -> allowed number of values -> complaint
_COUNT_RULES = (
    ((IN, NOT_IN), _ANY, "for 'in', 'notin' operators, values set can't be empty"),
    ((EQUALS, DOUBLE_EQUALS, NOT_EQUALS), (1,), "exact-match compatibility requires one single value"),
    ((EXISTS, DOES_NOT_EXIST), (0,), "values set must be empty for exists and does not exist"),
    ((GREATER_THAN, LESS_THAN), (1,), "for 'Gt', 'Lt' operators, exactly one value is required"),
)


def new_requirement(key: str, operator: str, values: list[str] | tuple[str, ...] | None, path: str = "") -> Requirement:
    """``labels.NewRequirement``: validate and build; 400 with the aggregated field errors."""
    vals = tuple(values or ())
    errs: list[str] = []
    key_path = f"{path}.key" if path else "key"
    values_path = f"{path}.values" if path else "values"
    key_errs = is_qualified_name(key)
    if key_errs:
        errs.append(_invalid(key_path, _go_quote(key), "; ".join(key_errs)))
    rule = next((r for r in _COUNT_RULES if operator in r[0]), None)
    if rule is None:
        supported = ", ".join(_go_quote(o) for o in (*_BINARY, EXISTS, DOES_NOT_EXIST))
        operator_path = f"{path}.operator" if path else "operator"
        errs.append(f"{operator_path}: Unsupported value: {_go_quote(operator)}: supported values: {supported}")
    elif len(vals) not in rule[1]:
        # Go prints the []string with %#v; a missing or empty list is nil there
        shown = "[]string{" + ", ".join(map(_go_quote, vals)) + "}" if vals else "[]string(nil)"
        errs.append(_invalid(values_path, shown, rule[2]))
    if operator in (GREATER_THAN, LESS_THAN):
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                detail = "for 'Gt', 'Lt' operators, the value must be an integer"
                errs.append(_invalid(f"{values_path}[{i}]", _go_quote(v), detail))
    for i, v in enumerate(vals):
        value_errs = is_label_value(v)
        if value_errs:
            errs.append(_invalid(f"{values_path}[{i}][{key}]", _go_quote(v), "; ".join(value_errs)))
    if errs:
        raise bad_request(_aggregate(errs))
    return Requirement(key, operator, vals)


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements; ``nothing`` marks the selector that matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when it does not restrict anything (the nothing-selector is not empty)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value ``key`` must have, when the selector pins it."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return "" if self.nothing else ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: ``None`` selects nothing, ``{}`` everything."""
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in sorted(match_labels.items())]
    operators = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in expressions:
        op = operators.get(expr.get("operator", ""))
        if op is None:
            raise bad_request(f"{_go_quote(str(expr.get('operator', '')))} is not a valid label selector operator")
        reqs.append(new_requirement(expr.get("key", ""), op, expr.get("values")))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """Exact match on every pair (``labels.SelectorFromSet``), without validation."""
    return LabelSelector(tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted((labels or {}).items())))


# ---------------------------------------------------------------------------
# The label selector language: a lexer and a recursive-descent parser

_END, _IDENT, _OPEN, _CLOSE, _COMMA, _NOT = "end", "ident", "(", ")", ",", "!"
_SYMBOLS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": DOUBLE_EQUALS, "=": EQUALS, ">": GREATER_THAN,
            "<": LESS_THAN, "!=": NOT_EQUALS, "(": _OPEN}
_KEYWORDS = {"in": IN, "notin": NOT_IN}
_SPECIAL = set("=!(),><")
_SPACE = set(" \t\r\n")


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal); operators and keywords are their own kinds."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            tokens.append((_END, ""))
            return tokens
        if text[i] in _SPECIAL:
            # longest run of symbols that still names a token ("!=" but "=" then "!")
            j = i + 1
            while j < n and text[j] in _SPECIAL and text[i : j + 1] in _SYMBOLS:
                j += 1
            tokens.append((_SYMBOLS[text[i:j]], text[i:j]))
            i = j
        else:
            j = i
            while j < n and text[j] not in _SPECIAL and text[j] not in _SPACE:
                j += 1
            word = text[i:j]
            tokens.append((_KEYWORDS.get(word, _IDENT), word))
            i = j


class _SyntaxError(Exception):
    pass


class _Parser:
    """Follows upstream's grammar and its error texts, token for token."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        return self._as(self.tokens[self.pos], values)

    def take(self, values: bool = True) -> tuple[str, str]:
        self.pos += 1
        return self._as(self.tokens[self.pos - 1], values)

    @staticmethod
    def _as(token: tuple[str, str], values: bool) -> tuple[str, str]:
        # where a value may stand, "in" and "notin" are plain words
        return (_IDENT, token[1]) if values and token[0] in (IN, NOT_IN) else token

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == _END:
                return reqs
            if kind not in (_IDENT, _NOT):
                raise _SyntaxError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except (_SyntaxError, StatusError) as e:
                raise _SyntaxError(f"unable to parse requirement: {_text(e)}") from None
            kind, lit = self.take()
            if kind == _END:
                return reqs
            if kind != _COMMA:
                raise _SyntaxError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in (_IDENT, _NOT):
                raise _SyntaxError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = ""
        kind, key = self.take()
        if kind == _NOT:
            operator = DOES_NOT_EXIST
            kind, key = self.take()
        if kind != _IDENT:
            raise _SyntaxError(f"found '{key}', expected: identifier")
        key_errs = is_qualified_name(key)
        if key_errs:  # the parser carries no field path, hence "<nil>"
            raise _SyntaxError(_invalid("<nil>", _go_quote(key), "; ".join(key_errs)))
        if self.peek()[0] in (_END, _COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        kind, lit = self.take(values=False)
        if kind not in _BINARY:
            raise _SyntaxError(f"found '{lit}', expected: {', '.join(_BINARY)}")
        found = self.value_set() if kind in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, kind, sorted(found))

    def value_set(self) -> set[str]:
        kind, lit = self.take()
        if kind != _OPEN:
            raise _SyntaxError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == _CLOSE:  # "()" holds the empty value
            self.take()
            return {""}
        if kind not in (_IDENT, _COMMA):
            raise _SyntaxError(f"found '{lit}', expected: ',', ')' or identifier")
        found: set[str] = set()
        while True:
            kind, lit = self.take()
            if kind == _IDENT:
                found.add(lit)
                nxt, nlit = self.peek()
                if nxt == _CLOSE:
                    break
                if nxt != _COMMA:
                    raise _SyntaxError(f"found '{nlit}', expected: ',' or ')'")
            elif kind == _COMMA:  # empty values: "(,a)", "(a,,b)", "(a,)"
                if not found:
                    found.add("")
                nxt = self.peek()[0]
                if nxt == _CLOSE:
                    found.add("")
                    break
                if nxt == _COMMA:
                    self.take()
                    found.add("")
            else:
                raise _SyntaxError(f"found '{lit}', expected: ',', or identifier")
        self.take()  # the ")" seen above
        return found

    def exact_value(self) -> set[str]:
        if self.peek()[0] in (_END, _COMMA):
            return {""}
        kind, lit = self.take()
        if kind != _IDENT:
            raise _SyntaxError(f"found '{lit}', expected: identifier")
        return {lit}


def _text(e: Exception) -> str:
    return e.message if isinstance(e, StatusError) else str(e)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the query-string form; 400 BadRequest with upstream's message on errors."""
    try:
        reqs = _Parser(text).parse()
    except _SyntaxError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# ---------------------------------------------------------------------------
# Field selectors


@dataclass(frozen=True)
class FieldRequirement:
    """``field <op> value``; ``operator`` is ``=`` or ``!=`` (``==`` reads as ``=``)."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        same = fields.get(self.field, "") == self.value
        return same if self.operator == EQUALS else not same

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def requirements(self) -> list[FieldRequirement]:
        return list(self.terms)

    def requires_exact_match(self, field: str) -> str | None:
        for t in self.terms:
            if t.field == field and t.operator == EQUALS:
                return t.value
        return None

    def transform(self, fn: Callable[[str, str], tuple[str, str]]) -> FieldSelector:
        """Rewrite each term; a term whose field and value both become empty is dropped."""
        out = []
        for t in self.terms:
            field, value = fn(t.field, t.value)
            if field or value:
                out.append(FieldRequirement(field, t.operator, value))
        return FieldSelector(tuple(out))

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":  # upstream prints the rune as a number
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def parse_field_selector(text: str) -> FieldSelector:
    """Parse ``a=b,c!=d``; terms come out sorted, as upstream sorts them."""
    terms: list[FieldRequirement] = []
    for part in sorted(_split_terms(text)) if text else []:
        if not part:
            continue
        for i in range(len(part)):
            op = next((o for o in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS) if part.startswith(o, i)), None)
            if op is not None:
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, value = part[:i], _unescape_field_value(part[i + len(op) :])
        terms.append(FieldRequirement(field, NOT_EQUALS if op == NOT_EQUALS else EQUALS, value))
    return FieldSelector(tuple(terms)).transform(lambda f, v: (f, v))


_DEFAULT_FIELDS = ("metadata.name", "metadata.namespace")


def check_fields(selector: FieldSelector, allowed: list[str], kind: str = "", version: str = "") -> FieldSelector:
    """Reject field labels the kind does not support, as the list handler does (400).

    Kinds with their own selectable fields have an upstream conversion function
    (``field label not supported: <label>``); the others fall back to the
    default one, which knows only ``metadata.name`` and ``metadata.namespace``.
    Returns the selector with upstream's renames applied (v1 Pod ``spec.host``).
    """
    custom = any(f not in _DEFAULT_FIELDS for f in allowed)

    def convert(field: str, value: str) -> tuple[str, str]:
        if kind == "Pod" and version == "v1" and field == "spec.host":  # old clients' name
            return "spec.nodeName", value
        if custom and field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        if not custom and field not in _DEFAULT_FIELDS:
            known = ", ".join(_go_quote(f) for f in _DEFAULT_FIELDS)
            raise bad_request(f"{_go_quote(field)} is not a known field selector: only {known}")
        return field, value

    return selector.transform(convert)
