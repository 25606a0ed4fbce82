"""Connector discovery through the ``agnes.connectors`` entry-point group."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Any

from ..errors import ValidationError
from . import calls
from .base import (
    Capability,
    ColumnStats,
    Connector,
    DiscoveredTable,
    NotSupported,
    ReadOptions,
    ScanEstimate,
    ScanGuard,
    TableMetadata,
    TableRead,
    TableRef,
)
from .calls import interrupt_all, live_calls

ENTRY_POINT_GROUP = "agnes.connectors"

# Built-ins are listed here too so a source checkout without installed metadata works.
_BUILTIN = {
    "lake": "agnes_core.connectors.lake:LakeConnector",
    "postgres": "agnes_core.connectors.postgres:PostgresConnector",
}

__all__ = [
    "Capability",
    "ColumnStats",
    "Connector",
    "DiscoveredTable",
    "NotSupported",
    "ReadOptions",
    "ScanEstimate",
    "ScanGuard",
    "TableMetadata",
    "TableRead",
    "TableRef",
    "calls",
    "connector_class",
    "connector_types",
    "interrupt_all",
    "live_calls",
    "make_connector",
]


@functools.cache
def connector_types() -> dict[str, str]:
    """Map of source type -> 'module:Class' for every known connector."""
    found = dict(_BUILTIN)
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


def make_connector(name: str, source_type: str, options: dict[str, Any],
                   secrets: dict[str, str] | None = None) -> Connector:
    return connector_class(source_type)(name, options, secrets)
