"""Etcd-shaped storage: the :class:`Backend` interface and its drivers.

Public surface: the interface and its value types (``backend``), the embedded
SQLite driver, and :func:`open_backend`, which picks a driver from a URL:

=================================  =======================================
``/var/lib/kyb/state.db``          SQLite file (a bare path)
``sqlite:///var/lib/kyb/state.db`` SQLite file (absolute path)
``sqlite://state.db``              SQLite file (relative path)
=================================  =======================================

Drivers register a factory per URL scheme in ``DRIVERS`` (see
:func:`register_driver`); an etcd driver adds ``etcd`` (and ``etcds``) there and
nothing else changes.  Every driver must pass ``tests/storage``' contract suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .backend import (
    DELETE,
    PUT,
    Backend,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    RevisionMismatchError,
    StorageError,
)
from .sqlite import SQLiteBackend

__all__ = [
    "DELETE",
    "DRIVERS",
    "PUT",
    "Backend",
    "CompactedError",
    "Event",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "RangeResult",
    "RevisionMismatchError",
    "SQLiteBackend",
    "StorageError",
    "open_backend",
    "register_driver",
]

# scheme -> factory(location after "scheme://", driver options) -> an unstarted Backend
DriverFactory = Callable[[str, dict[str, Any]], Backend]


def _open_sqlite(location: str, options: dict[str, Any]) -> Backend:
    if not location:
        raise ValueError("sqlite storage URL needs a path, e.g. sqlite:///var/lib/kyb/state.db")
    return SQLiteBackend(location, **options)


DRIVERS: dict[str, DriverFactory] = {"sqlite": _open_sqlite}


def register_driver(scheme: str, factory: DriverFactory) -> None:
    """Make ``open_backend("<scheme>://...")`` build a backend with ``factory``."""
    DRIVERS[scheme.lower()] = factory


def open_backend(url_or_path: str, **options: Any) -> Backend:
    """The backend a URL (or a bare file path, meaning SQLite) names; call ``start()`` on it.

    ``options`` go to the driver (for SQLite: ``compact_window``, ``watch_window``).
    Raises ValueError for a scheme no driver handles.
    """
    scheme, sep, location = url_or_path.partition("://")
    if not sep:
        return _open_sqlite(url_or_path, options)
    factory = DRIVERS.get(scheme.lower())
    if factory is None:
        known = ", ".join(sorted(DRIVERS))
        raise ValueError(
            f"unsupported storage URL {url_or_path!r}: no driver for scheme {scheme!r} (known: {known}; "
            "a bare path means a SQLite file)"
        )
    return factory(location, options)
