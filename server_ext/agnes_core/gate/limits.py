"""The gate's limits: server defaults (AgnesApp traits) that a source can only lower."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from agnes_core.errors import ValidationError
from agnes_core.ids import whole_number

GIB = 1024**3
TIB = 1024**4


@dataclass(frozen=True)
class Limits:
    scan_confirm_bytes: int = 1 * GIB
    scan_max_bytes: int = 5 * GIB
    daily_scan_bytes_per_user: int = 50 * GIB
    max_concurrent_scans_per_user: int = 5
    max_result_rows: int = 10_000_000
    max_result_bytes: int = 2 * GIB
    #: Wall time a scan may run, from admission to its last batch; then it is stopped in the source.
    scan_timeout_seconds: int = 300

    def lowered_by(self, overrides: Mapping[str, Any] | None) -> Limits:
        """The smaller of each limit and the source's own (a source can only tighten)."""
        if not overrides:
            return self
        values = asdict(self)
        for key, value in overrides.items():
            if key in values and isinstance(value, int) and not isinstance(value, bool):
                values[key] = min(values[key], value)
        return Limits(**values)

    def to_json(self) -> dict[str, int]:
        return asdict(self)


LIMIT_NAMES = tuple(f.name for f in fields(Limits))


def validate_source_limits(value: Any) -> dict[str, int]:
    """``options.limits`` of a source: known names, positive whole numbers."""
    if not isinstance(value, dict):
        raise ValidationError("options.limits", "limits must be an object of limit names to numbers",
                              hint=f"names: {', '.join(LIMIT_NAMES)}")
    for key, v in value.items():
        if key not in LIMIT_NAMES:
            raise ValidationError(f"options.limits.{key}", f"unknown limit {key!r}",
                                  hint=f"names: {', '.join(LIMIT_NAMES)}")
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValidationError(f"options.limits.{key}", f"limits.{key} must be a positive whole number")
    return dict(value)


def validate_limit_overrides(value: Any) -> dict[str, int | None]:
    """``limits`` of ``PATCH admin/settings``: known names, positive whole numbers, or null to go
    back to the configured value."""
    if not isinstance(value, dict):
        raise ValidationError("limits", "limits must be an object of limit names to numbers (or null)",
                              hint=f"names: {', '.join(LIMIT_NAMES)}")
    for key, v in value.items():
        if key not in LIMIT_NAMES:
            raise ValidationError(f"limits.{key}", f"unknown limit {key!r}", hint=f"names: {', '.join(LIMIT_NAMES)}")
        number = whole_number(v)
        if v is not None and (number is None or number <= 0):
            raise ValidationError(f"limits.{key}", f"limits.{key} must be a positive whole number, or null "
                                                   "for the configured value")
    return {key: whole_number(v) for key, v in value.items()}


def human_bytes(n: float) -> str:
    """Bytes as messages say them: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"
