"""Wire scalars that upstream parses with custom JSON unmarshalers.

Four kinds of leaf value are not plain JSON strings or numbers on the Go
side: ``resource.Quantity``, ``metav1.Time``, ``metav1.MicroTime`` and byte
slices (``[]byte``, base64 on the wire).  When a body fails to parse into one
of them, the API server answers 400 with the parser's own message, so clients
see texts like ``quantities must match the regular expression '...'`` or
``illegal base64 data at input byte 4``.  This module reproduces those
acceptance rules and messages (learned from apimachinery's ``quantity.go``,
Go's ``time.Parse`` with ``time.RFC3339`` and ``encoding/base64``), and
normalises times the way the Go side re-encodes them (UTC, second or
microsecond precision; the zero time becomes ``null``).

Pure functions, no state: each returns an error message or ``None``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# --------------------------------------------------------------------------- quantity

_QUANTITY_RE_TEXT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
QUANTITY_FORMAT_ERROR = f"quantities must match the regular expression '{_QUANTITY_RE_TEXT}'"
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"

# sign, integer digits, optional fraction, then the suffix run: letters from the
# suffix alphabet, an optional sign and digits (the exponent of "1e3").  This is
# the grammar parseQuantityString walks; anything left over is a format error.
_QUANTITY_GRAMMAR = re.compile(r"[+-]?[0-9]*(?:\.[0-9]*)?([eEinumkKMGTP]*[-+]?[0-9]*)\Z")
_SUFFIXES = frozenset(("", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))
_EXPONENT_SUFFIX = re.compile(r"[eE][+-]?[0-9]+\Z")


def quantity_error(text: str) -> str | None:
    """Why ``text`` is not a valid Quantity (ParseQuantity), or ``None``.

    The caller strips surrounding whitespace first, as Quantity.UnmarshalJSON does.
    """
    if not text:
        return QUANTITY_FORMAT_ERROR
    m = _QUANTITY_GRAMMAR.match(text)
    if m is None:
        return QUANTITY_FORMAT_ERROR
    suffix = m.group(1)
    if suffix in _SUFFIXES or _EXPONENT_SUFFIX.match(suffix):
        return None
    return QUANTITY_SUFFIX_ERROR


# --------------------------------------------------------------------------- base64

# The only shape Go's StdEncoding accepts when no line breaks are present; long
# secrets take this C-speed path, the byte walk below only explains failures.
_B64_CANONICAL = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = frozenset(b"\r\n")


def base64_error(text: str) -> str | None:
    """Go's ``base64.StdEncoding`` verdict on ``text``: ``None`` or the CorruptInputError text."""
    raw = text.encode()
    if _B64_CANONICAL.match(raw):
        return None
    at = _corrupt_offset(raw)
    return None if at is None else f"illegal base64 data at input byte {at}"


def _corrupt_offset(src: bytes) -> int | None:
    """Walk 4-character quanta like Go's decoder, skipping CR/LF; the first bad offset."""
    n, si = len(src), 0
    while True:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64_ALPHABET:
                j += 1
                continue
            if c in _NEWLINES:
                continue
            if c != 0x3D or j < 2:  # not '=', or padding too early
                return si - 1
            if j == 2:  # "xx=" needs a second '='
                while si < n and src[si] in _NEWLINES:
                    si += 1
                if si == n:
                    return n
                if src[si] != 0x3D:
                    return si - 1
                si += 1
            while si < n and src[si] in _NEWLINES:
                si += 1
            return si if si < n else None  # anything after the padding is garbage


# --------------------------------------------------------------------------- time

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

# The canonical shapes clients send; anything else takes the layout walk below.
_TIME_FAST = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
_MICRO_FAST = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_DIGITS = frozenset("0123456789")
_ZERO = (1, 1, 1, 0, 0, 0, 0, 0)


class TimeParseError(ValueError):
    """A ``time.Parse`` failure; ``str()`` is Go's ParseError text."""


def normalize_time(text: str, *, micro: bool = False) -> str | None:
    """``text`` as the Go side re-encodes it (UTC), ``None`` for the zero time.

    Raises :class:`TimeParseError` with upstream's message when ``text`` does not
    parse with RFC3339 (``micro=False``, metav1.Time) or RFC3339Micro (MicroTime).
    """
    parts = _parse(text, micro)
    if parts == _ZERO:
        return None  # Go marshals the zero time as null
    if (_MICRO_FAST if micro else _TIME_FAST).match(text):
        return text  # already UTC at the precision Go writes
    year, month, day, hour, minute, second, micros, offset = parts
    try:
        when = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC) - timedelta(seconds=offset)
    except (ValueError, OverflowError):
        return text  # year 0 or beyond 9999: valid for Go, not representable here; keep as sent
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_quote(s: str) -> str:
    """Go's time-package ``quote``: printable ASCII kept, other bytes as ``\\xNN``."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch < "\x7f":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    out.append('"')
    return "".join(out)


def _isdigits(s: str) -> bool:
    return bool(s) and all(c in _DIGITS for c in s)


def _getnum(value: str, fixed: bool) -> tuple[int, str] | None:
    """One or two leading digits (exactly two when ``fixed``), as Go's getnum."""
    if not _isdigits(value[:1]):
        return None
    if not _isdigits(value[1:2]):
        return None if fixed else (int(value[0]), value[1:])
    return int(value[:2]), value[2:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


# (literal before the element, layout element, exclusive upper bound or None); month starts at 1
_STEPS = (("", "2006", None), ("-", "01", 13), ("-", "02", None), ("T", "15", 24),
          (":", "04", 60), (":", "05", 60))
_RANGE_NAMES = {"01": "month", "15": "hour", "04": "minute", "05": "second"}


def _parse(text: str, micro: bool) -> tuple[int, int, int, int, int, int, int, int]:
    """Walk the layout element by element as Go's ``time.Parse`` does.

    Returns (year, month, day, hour, minute, second, microseconds, utc offset
    seconds); raises :class:`TimeParseError` naming the first element that fails.
    """
    layout = RFC3339_MICRO if micro else RFC3339
    head = f"parsing time {_go_quote(text)}"

    def cannot(rest: str, elem: str) -> TimeParseError:
        return TimeParseError(f"{head} as {_go_quote(layout)}: cannot parse {_go_quote(rest)} as {_go_quote(elem)}")

    value, nums = text, []
    for prefix, elem, bound in _STEPS:
        if not value.startswith(prefix):
            raise cannot(value, prefix)
        value = value[len(prefix):]
        hold = value
        if elem == "2006":
            got = (int(value[:4]), value[4:]) if len(value) >= 4 and _isdigits(value[:4]) else None
        else:
            got = _getnum(value, fixed=elem != "15")  # the hour may have one digit
        if got is None:
            raise cannot(hold, elem)
        num, value = got
        if bound is not None and (num >= bound or (elem == "01" and num == 0)):
            raise TimeParseError(f"{head}: {_RANGE_NAMES[elem]} out of range")
        nums.append(num)
    frac = ""
    if micro:
        if len(value) < 7 or value[0] not in ".," or not _isdigits(value[1:7]):
            raise cannot(value, ".000000")
        frac, value = value[1:7], value[7:]
    elif len(value) >= 2 and value[0] in ".," and value[1] in _DIGITS:
        rest = value[1:].lstrip("0123456789")  # a fraction the layout does not name is allowed
        frac, value = value[1:len(value) - len(rest)], rest
    offset = 0
    if value.startswith("Z"):
        value = value[1:]
    else:
        hh = _getnum(value[1:3], True) if len(value) >= 6 and value[3] == ":" else None
        mm = _getnum(value[4:6], True) if hh is not None else None
        if hh is None or mm is None or value[0] not in "+-":
            raise cannot(value, "Z07:00")
        if hh[0] > 24:
            raise TimeParseError(f"{head}: time zone offset hour out of range")
        if mm[0] > 60:
            raise TimeParseError(f"{head}: time zone offset minute out of range")
        offset = (hh[0] * 3600 + mm[0] * 60) * (-1 if value[0] == "-" else 1)
        value = value[6:]
    if value:
        raise TimeParseError(f"{head}: extra text: {_go_quote(value)}")
    year, month, day, hour, minute, second = nums
    if day < 1 or day > _days_in(month, year):
        raise TimeParseError(f"{head}: day out of range")
    micros = int(frac[:6].ljust(6, "0")) if frac else 0
    return (year, month, day, hour, minute, second, micros, offset)
