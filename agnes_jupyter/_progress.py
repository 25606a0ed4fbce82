"""Progress bars that count bytes and end honestly: full (and green) when the work completed,
where they stopped (red) when it failed."""

from __future__ import annotations

from typing import Any


class ByteBar:
    """A tqdm bar over bytes; ``total`` may be an estimate (shown as an upper bound with ``≤``)
    or unknown. ``done(True)`` fills it whatever the estimate said."""

    def __init__(self, total: int | None, desc: str, enabled: bool = True, upper_bound: bool = False) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from tqdm.auto import tqdm

        label = desc
        if total and upper_bound:
            from ._display import human_bytes

            label = f"{desc} (≤ {human_bytes(total)})"
        self._bar = tqdm(total=total or None, desc=label, unit="B", unit_scale=True, unit_divisor=1024, leave=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            bar = self._bar
            if bar.total is not None and bar.n + n > bar.total:
                _set_total(bar, bar.n + n)  # the estimate was low: never show more than 100 %
            bar.update(n)

    def done(self, success: bool) -> None:
        if self._bar is None:
            return
        bar, self._bar = self._bar, None
        if success:
            _set_total(bar, bar.n)
            bar.refresh()
        bar.close()


def _set_total(bar: Any, total: int) -> None:
    """Change a bar's total, including the notebook widget's maximum (tqdm.notebook draws the
    bar from the widget, which keeps the total it was created with)."""
    bar.total = total
    container = getattr(bar, "container", None)
    children = getattr(container, "children", None)
    if children and len(children) == 3:
        children[1].max = max(total, 1)
