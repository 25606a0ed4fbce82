"""Progress of long work (scans, downloads): in a notebook, tqdm bars that count bytes and end
honestly — full (and green) when the work completed, where they stopped (red) when it failed;
elsewhere (the server's workspace routes run this library's sync and snapshots for the JupyterLab
panel), a callback that receives the same figures.

Functions that report progress take ``progress``: ``True``/``False`` (a bar or none; steps are
printed) or a :data:`ProgressCallback` (nothing is printed; the callback gets every step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

#: ``progress(phase, done_bytes, total_bytes, message)``: called from the worker threads of the
#: work (for bytes, often); ``total_bytes`` is None when unknown.
ProgressCallback: TypeAlias = Callable[[str, int, "int | None", str], None]
#: A bar (``True``), nothing (``False``) or a callback.
Progress: TypeAlias = "bool | ProgressCallback"


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


class CallbackBar:
    """A :class:`ByteBar` that hands its figures to a callback (same rules: a low estimate grows,
    and a completed bar is full)."""

    def __init__(self, callback: ProgressCallback, total: int | None, phase: str, message: str) -> None:
        self._callback = callback
        self._phase = phase
        self._message = message
        self.total = total or None
        self.n = 0
        callback(phase, 0, self.total, message)

    def update(self, n: int) -> None:
        self.n += n
        if self.total is not None and self.n > self.total:
            self.total = self.n
        self._callback(self._phase, self.n, self.total, self._message)

    def done(self, success: bool) -> None:
        if success:
            self.total = self.n
            self._callback(self._phase, self.n, self.total, self._message)


def byte_bar(progress: Progress, total: int | None, desc: str, *, phase: str, enabled: bool = True,
             upper_bound: bool = False) -> ByteBar | CallbackBar:
    """The bar for ``progress``: a callback gets every figure (``enabled`` only hides a tqdm bar)."""
    if callable(progress):
        return CallbackBar(progress, total, phase, desc)
    return ByteBar(total, desc, bool(progress) and enabled, upper_bound)


def step(progress: Progress, phase: str, message: str = "") -> None:
    """A step of the work, for a callback only (a notebook shows the bar and the result instead)."""
    if callable(progress):
        progress(phase, 0, None, message)


def say(progress: Progress, phase: str, message: str) -> None:
    """A line the user should read: printed in a notebook, handed to a callback elsewhere."""
    if callable(progress):
        progress(phase, 0, None, message)
    else:
        print(message)


def _set_total(bar: Any, total: int) -> None:
    """Change a bar's total, including the notebook widget's maximum (tqdm.notebook draws the
    bar from the widget, which keeps the total it was created with)."""
    bar.total = total
    container = getattr(bar, "container", None)
    children = getattr(container, "children", None)
    if children and len(children) == 3:
        children[1].max = max(total, 1)
