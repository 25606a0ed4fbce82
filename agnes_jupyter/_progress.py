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
                bar.total = bar.n + n  # the estimate was low: never show more than 100 %
            bar.update(n)

    def done(self, success: bool) -> None:
        if self._bar is None:
            return
        bar, self._bar = self._bar, None
        if success:
            bar.total = bar.n
            bar.refresh()
        bar.close()
