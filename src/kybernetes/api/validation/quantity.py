"""Kubernetes resource quantities (``100m``, ``1Gi``, ``1e3``, ``0.5``), exactly.

A quantity is a signed decimal number followed by one suffix: a binary SI
suffix (``Ki`` … ``Ei``, powers of 1024), a decimal SI suffix (``n``, ``u``,
``m``, none, ``k``, ``M``, ``G``, ``T``, ``P``, ``E``) or a decimal exponent
(``e3``, ``E-2``).  The scanner follows upstream's ``parseQuantityString``
character by character, including its tolerances (``1.`` and ``.5`` parse,
``m`` alone is zero), and reports upstream's errors:

* ``quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'``
* ``unable to parse quantity's suffix``

Values are exact :class:`~decimal.Decimal` s, never floats; like upstream, a
non-zero amount finer than a nano-unit rounds away from zero to ``1n``.
:func:`canonical` prints the form upstream serializes (``1.5`` → ``1500m``,
``1.5Gi`` → ``1536Mi``), which error messages quote.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, ROUND_UP, Context, Decimal, localcontext
from typing import Any

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_WRONG = "unable to parse quantity's suffix"

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")
_NANO = Decimal("1e-9")
_MAX_INT64 = Decimal(2**63 - 1)
# Plenty of precision: quantities are at most ~2^63 with 9 fractional digits.  The
# exponent range is the widest there is: upstream keeps ``1e999999999`` as an
# arbitrary-precision decimal, and so do we (a Decimal only stores the exponent).
_CTX = Context(prec=100, Emax=MAX_EMAX, Emin=MIN_EMIN)


class QuantityError(ValueError):
    """A string that is not a quantity; ``str(e)`` is upstream's message."""


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    format: str

    def __str__(self) -> str:
        return _canonical(self.value, self.format)


def _scan(s: str) -> tuple[bool, str, str, str]:
    """Split into (positive, integer digits, fraction digits, suffix) as upstream does."""
    positive, pos, end = True, 0, len(s)
    if pos < end and s[0] in "+-":
        positive = s[0] == "+"
        pos += 1
    while pos < end and s[pos] == "0":  # leading zeros
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, num, denom, s[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        exp = suffix[1:]
        body = exp[1:] if exp[0] in "+-" else exp
        if body and set(body) <= _DIGITS and len(body.lstrip("0")) <= 19:
            parsed = int(exp)
            if -(2**63) <= parsed < 2**63:  # strconv.ParseInt(exp, 10, 64), then int32(parsed)
                return 10, (parsed + 2**31) % 2**32 - 2**31, DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_WRONG)


def parse(value: Any) -> Quantity:
    """Parse a wire quantity (a string, or a JSON number as upstream also accepts)."""
    if isinstance(value, bool):
        raise QuantityError(FORMAT_WRONG)
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str) or not value:
        raise QuantityError(FORMAT_WRONG)
    positive, num, denom, suffix = _scan(value)
    base, exponent, fmt = _interpret(suffix)
    with localcontext(_CTX):
        amount = Decimal(f"{num}.{denom or '0'}")
        amount = amount.scaleb(exponent) if base == 10 else amount * (Decimal(2) ** exponent)
        exponent_now = amount.as_tuple().exponent
        if amount != 0 and isinstance(exponent_now, int) and exponent_now < -9:
            # finer than a nano-unit: round away from zero, as upstream does
            amount = amount.quantize(_NANO, rounding=ROUND_UP)
        if fmt == BINARY_SI and amount > _MAX_INT64:
            amount = _MAX_INT64
        if fmt == BINARY_SI and 0 < amount < 1:
            fmt = DECIMAL_SI
        return Quantity(amount if positive else -amount, fmt)


def parse_quantity(value: Any) -> Decimal:
    """The exact amount of a quantity; raises :class:`QuantityError`."""
    return parse(value).value


def canonical(value: Any) -> str:
    """The canonical form upstream serializes (``String()``)."""
    return str(parse(value))


_DECIMAL_NAMES = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_NAMES = {v: k for k, v in _BINARY_SUFFIXES.items()}


def _decimal_parts(amount: Decimal) -> tuple[str, int]:
    """(mantissa digits, exponent) with no factor of ten left and the exponent a multiple of three.

    The mantissa stays text: a quantity may have more digits than ``int()`` converts.
    """
    sign, digits, exp = amount.normalize(_CTX).as_tuple()
    assert isinstance(exp, int)
    mantissa = "".join(map(str, digits)).lstrip("0") or "0"
    # lower the exponent to a multiple of three (floor), growing the mantissa
    shift = exp % 3
    if mantissa != "0":
        mantissa += "0" * shift
    return ("-" + mantissa if sign else mantissa), exp - shift


def _canonical(amount: Decimal, fmt: str) -> str:
    if amount == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < amount < 1024 or amount != amount.to_integral_value():
            fmt = DECIMAL_SI
        else:
            n, exp = int(amount), 0
            while n % 1024 == 0 and exp < 60:
                n //= 1024
                exp += 10
            return f"{n}{_BINARY_NAMES.get(exp, '')}"  # 2^0 has no suffix (a clamped 2^63-1)
    mantissa, exp = _decimal_parts(amount)
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exp}" if exp else mantissa
    if exp > 18:  # beyond Exa: keep the biggest suffix and a longer number
        mantissa, exp = mantissa + "0" * (exp - 18), 18
    return f"{mantissa}{_DECIMAL_NAMES[exp]}"
