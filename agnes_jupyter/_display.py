"""Small rendering helpers: human sizes and ages, escaped HTML tables and badges."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"


def human_count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def human_age(value: str | datetime | None, now: datetime | None = None) -> str:
    ts = parse_time(value) if isinstance(value, str) or value is None else value
    if ts is None:
        return "never"
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    seconds = ((now or datetime.now(timezone.utc)) - ts).total_seconds()
    if seconds < 0:
        return "just now"
    for limit, unit in ((60, "s"), (3600, "min"), (86400, "h"), (86400 * 30, "d")):
        if seconds < limit:
            divisor = {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
            return f"{int(seconds // divisor)} {unit} ago"
    return f"{int(seconds // (86400 * 30))} mo ago"


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


#: Colours are JupyterLab theme variables, so light and dark themes both read well; outside
#: JupyterLab (nbconvert, other front ends) the variables are undefined and the text colour is used.
TONES = {
    "success": "var(--jp-success-color1, currentColor)",
    "warn": "var(--jp-warn-color1, currentColor)",
    "error": "var(--jp-error-color1, currentColor)",
    "info": "var(--jp-brand-color1, currentColor)",
    "muted": "var(--jp-ui-font-color2, currentColor)",
}

#: The tone of the words badges show; anything else is ``muted``.
BADGE_TONES = {
    "local": "success", "remote": "warn", "materialized": "info",
    "fresh": "success", "stale": "warn", "error": "error", "never_fetched": "muted",
    "prod": "success", "poc": "warn", "coming-soon": "info", "draft": "muted",
    "ok": "success", "needs_confirmation": "warn", "refused": "error",
    "downloaded": "success", "unchanged": "muted", "removed": "warn", "failed": "error",
    "succeeded": "success", "running": "info", "queued": "muted",
    "required": "info", "curated": "muted", "new": "info", "in my stack": "success",
}


def tone_colour(tone: str) -> str:
    """The CSS colour of a tone (``success``, ``warn``, ``error``, ``info``, ``muted``)."""
    return TONES.get(tone, TONES["muted"])


def muted() -> str:
    """Inline style for secondary text (descriptions, captions)."""
    return "color:var(--jp-ui-font-color2, inherit)"


def border() -> str:
    """Inline style for the border of a card."""
    return "border:1px solid var(--jp-border-color2, currentColor)"


def badge(text: str, title: str = "", tone: str | None = None) -> str:
    """A small outlined pill in the tone of ``text`` (or the ``tone`` given); no fill, so it reads
    on any theme's background."""
    colour = tone_colour(tone or BADGE_TONES.get(text, "muted"))
    return (f'<span class="agnes-badge" title="{esc(title)}" style="border:1px solid {colour};color:{colour};'
            f'border-radius:8px;padding:0 6px;font-size:85%;white-space:nowrap">{esc(text)}</span>')


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "",
               raw_columns: frozenset[int] = frozenset()) -> str:
    """An HTML table; cells are escaped unless their column index is in ``raw_columns``
    (for cells built from :func:`badge`, which escapes its own text)."""
    head = "".join(f'<th style="text-align:left">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td style="text-align:left">{cell if i in raw_columns else esc(cell)}</td>' for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    cap = f'<caption style="text-align:left;caption-side:top">{esc(caption)}</caption>' if caption else ""
    return f'<table class="agnes-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    sep = "  ".join("-" * w for w in widths).rstrip()
    body = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    return "\n".join([line.rstrip(), sep, *body])
