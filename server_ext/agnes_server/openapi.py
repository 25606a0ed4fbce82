"""The OpenAPI 3.1 document of the Agnes API, loaded once from ``openapi.yaml``."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml

from . import __version__

SPEC_FILE = Path(__file__).with_name("openapi.yaml")


def placeholders() -> dict[str, Any]:
    """Values the document takes from the code that enforces them (``$NAME`` in openapi.yaml), so
    the two cannot drift: the server checks with the same patterns it publishes."""
    from agnes_core import ids
    from agnes_core.access.tokens import MAX_DAYS
    from agnes_core.connectors import connector_types
    from agnes_core.curation.packages import SLUG_RE
    from agnes_core.extract.schedule import SCHEDULE_PATTERN
    from agnes_core.gate.planner import ORDER_ITEM_PATTERN
    from agnes_jupyter._workspace import NAME_RE as SNAPSHOT_NAME_RE

    physical = ids.PHYSICAL_NAME_RE.pattern
    return {
        "$TABLE_ID": ids.TABLE_ID_RE.pattern,
        "$PHYSICAL_NAME": physical,
        "$PHYSICAL_NAME_OR_EMPTY": "^(" + physical.removeprefix("^").removesuffix("$") + ")?$",
        "$ENV_VAR": ids.ENV_VAR_RE.pattern,
        "$GROUP": ids.GROUP_RE.pattern,
        "$USERNAME": ids.USERNAME_PATTERN,
        "$LINE_TEXT": ids.LINE_TEXT_PATTERN,
        "$TEXT": ids.TEXT_PATTERN,
        "$SLUG": SLUG_RE.pattern,
        "$RESOURCE_ID": r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$",
        "$HTTP_URL_OR_EMPTY": "^(https?://[^" + ids.WHITESPACE + ids.INVISIBLE + "<>\"']+)?$",
        "$NOT_BLANK": ids.NOT_BLANK_PATTERN,
        "$ORDER_ITEM": ORDER_ITEM_PATTERN,
        "$SCHEDULE": SCHEDULE_PATTERN,
        "$MAX_TOKEN_DAYS": MAX_DAYS,
        "$CONNECTOR_TYPES": sorted(connector_types()),
        "$SNAPSHOT_NAME": SNAPSHOT_NAME_RE.pattern,
    }


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    if isinstance(node, str) and node.startswith("$") and node in values:
        return values[node]
    return node


@functools.cache
def _spec() -> dict[str, Any]:
    with SPEC_FILE.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = _fill(yaml.safe_load(fh), placeholders())
    spec["info"]["version"] = __version__
    left = sorted({m for m in re.findall(r"'?(\$[A-Z_]+)'?", SPEC_FILE.read_text()) if m not in placeholders()})
    if left:
        raise RuntimeError(f"openapi.yaml names placeholders the code does not define: {left}")
    return spec


def openapi_document(base_url: str = "/") -> dict[str, Any]:
    spec = copy.deepcopy(_spec())
    spec["servers"] = [{"url": base_url.rstrip("/") + "/agnes/v1"}]
    return spec
