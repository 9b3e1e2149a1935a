"""Field paths, tolerant accessors and the small shared checks of validation.

Validators walk wire JSON (plain dicts), so this module gives them three
things:

* **paths** spelled as upstream's ``field.Path`` prints them: ``child`` joins
  with dots, ``index`` adds ``[i]``, ``key`` adds ``[key]`` (map keys are not
  quoted), and the root of an empty path prints as ``[]``;
* **accessors** that never raise: a value of the wrong JSON type reads as
  absent.  Type errors are a decoding concern (upstream answers them with a
  400 before validation runs), so validators only judge well-typed values;
* **shared checks** (non-negative, immutable) and the error constructors the
  ``errors`` module lacks (``not_found``, ``internal``).

Also :func:`semantic_equal`, upstream's ``apiequality.Semantic.DeepEqual`` for
wire JSON: an absent field equals its zero value and quantities compare by
amount.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.validation.quantity import QuantityError, canonical

Errs = list[FieldError]

IS_NEGATIVE = "must be greater than or equal to 0"
IMMUTABLE = "field is immutable"


# -- paths -------------------------------------------------------------------


def child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


# -- tolerant accessors ------------------------------------------------------


def as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def as_str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def as_int(v: Any) -> int | None:
    """An integer, or None when absent or not an integer (bools are not)."""
    if isinstance(v, bool) or not isinstance(v, int):
        return None
    return v


def str_map(v: Any) -> dict[str, str]:
    """A ``map[string]string`` (labels, selectors); non-string values dropped."""
    return {k: x for k, x in as_dict(v).items() if isinstance(x, str)}


def dicts(v: Any) -> list[dict[str, Any]]:
    """The elements of a list of objects, non-objects read as empty objects."""
    return [as_dict(x) for x in as_list(v)]


def dig(obj: Any, *path: str) -> Any:
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


# -- error constructors missing from ``errors`` ------------------------------


def not_found(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(errors.NOT_FOUND_VALUE, path, value, detail)


def internal(path: str, detail: str) -> FieldError:
    return FieldError(errors.INTERNAL_VALUE, path, detail=detail)


# -- shared checks -------------------------------------------------------------


def nonnegative(value: Any, path: str) -> Errs:
    """apimachinery ValidateNonnegativeField (absent reads as zero)."""
    n = as_int(value)
    if n is not None and n < 0:
        return [errors.invalid_value(path, n, IS_NEGATIVE)]
    return []


def immutable(new: Any, old: Any, path: str, shown: Any = None) -> Errs:
    """``field is immutable`` unless ``new`` semantically equals ``old``.

    ``shown`` is the value to print (defaults to ``new``), for fields whose Go
    rendering differs from the wire value.
    """
    if semantic_equal(new, old):
        return []
    return [errors.invalid_value(path, new if shown is None else shown, IMMUTABLE)]


# -- semantic equality -----------------------------------------------------------

# Maps whose values are resource quantities: "1" equals "1000m" there.
_QUANTITY_MAPS = {"limits", "requests", "overhead", "capacity", "allocatable", "hard", "used"}


def _is_zero(v: Any) -> bool:
    if v is None or v is False:
        return True
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v == 0
    return v in ("", [], {})


def normalize(v: Any, parent: str = "") -> Any:
    """Drop zero values (Go decodes absent fields as zero) and canonicalize quantities."""
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for k, x in v.items():
            if parent in _QUANTITY_MAPS and isinstance(x, str | int | float) and not isinstance(x, bool):
                try:
                    out[k] = canonical(x)
                    continue
                except QuantityError:
                    pass
            if k == "sizeLimit" and isinstance(x, str):
                try:
                    out[k] = canonical(x)
                    continue
                except QuantityError:
                    pass
            n = normalize(x, k)
            if not _is_zero(n):
                out[k] = n
        return out
    if isinstance(v, list):
        return [normalize(x, parent) for x in v]
    return v


def semantic_equal(a: Any, b: Any) -> bool:
    na, nb = normalize(a), normalize(b)
    return bool((None if _is_zero(na) else na) == (None if _is_zero(nb) else nb))
