"""The OpenAPI 3.1 document of the Agnes API, loaded once from ``openapi.yaml``."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from . import __version__

SPEC_FILE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def _spec() -> dict[str, Any]:
    with SPEC_FILE.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = yaml.safe_load(fh)
    spec["info"]["version"] = __version__
    return spec


def openapi_document(base_url: str = "/") -> dict[str, Any]:
    spec = copy.deepcopy(_spec())
    spec["servers"] = [{"url": base_url.rstrip("/") + "/agnes/v1"}]
    return spec
