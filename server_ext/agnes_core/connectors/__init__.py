"""Connector discovery through the ``agnes.connectors`` entry-point group."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Any

from agnes_core.connectors import calls
from agnes_core.connectors.base import (
    Capability,
    ColumnStats,
    Connector,
    DiscoveredTable,
    FormField,
    NotSupported,
    ReadOptions,
    ScanBilling,
    ScanEstimate,
    ScanGuard,
    TableMetadata,
    TableRead,
    TableRef,
)
from agnes_core.connectors.calls import interrupt_all, live_calls
from agnes_core.connectors.types import LocalTypes, TypeNaming
from agnes_core.errors import ValidationError

ENTRY_POINT_GROUP = "agnes.connectors"

__all__ = [
    "Capability",
    "ColumnStats",
    "Connector",
    "DiscoveredTable",
    "FormField",
    "NotSupported",
    "ReadOptions",
    "ScanBilling",
    "ScanEstimate",
    "ScanGuard",
    "TableMetadata",
    "TableRead",
    "TableRef",
    "calls",
    "connector_class",
    "connector_types",
    "describe_connectors",
    "guards_for",
    "interrupt_all",
    "live_calls",
    "make_connector",
]


@functools.cache
def connector_types() -> dict[str, str]:
    """Map of source type -> 'module:Class' for every installed connector. The entry points are
    the one list: the built-in connectors are declared in pyproject.toml like any other."""
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.value
    return found


@functools.cache
def connector_class(source_type: str) -> type[Connector]:
    target = connector_types().get(source_type)
    if target is None:
        raise ValidationError(
            "type",
            f"unknown source type {source_type!r}",
            hint=f"known types: {', '.join(sorted(connector_types()))}",
        )
    module_name, _, attr = target.partition(":")
    module = __import__(module_name, fromlist=[attr])
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"{target} is not a Connector")
    return cls


def guards_for(dialect: str) -> type[TypeNaming] | None:
    """The class that writes value guards in ``dialect``: an installed connector of that dialect
    (or the local DuckDB's naming), when it has written them."""
    candidates: list[type[TypeNaming]] = [LocalTypes]
    for source_type in connector_types():
        try:
            candidates.append(connector_class(source_type))
        except Exception:  # noqa: BLE001 - a broken plugin does not stop the others
            continue
    for cls in candidates:
        if getattr(cls, "dialect", None) == dialect and cls.guards_values:
            return cls
    return None


def describe_connectors() -> list[dict[str, Any]]:
    """Every installed connector as an admin adds a source of it (type, title, options, secrets); a
    plugin that fails to load is listed with its error instead of hiding the others."""
    out = []
    for source_type in sorted(connector_types()):
        try:
            out.append(connector_class(source_type).describe())
        except Exception as exc:  # noqa: BLE001 - a broken plugin does not stop the others
            out.append({"type": source_type, "title": source_type, "dialect": "", "capabilities": [],
                        "options": [], "secrets": [], "error": f"{type(exc).__name__}: {exc}"[:500]})
    return out


def make_connector(name: str, source_type: str, options: dict[str, Any],
                   secrets: dict[str, str] | None = None) -> Connector:
    return connector_class(source_type)(name, options, secrets)
