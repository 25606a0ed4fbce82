"""What the widgets share: one-line errors (never a traceback in a widget), the plain-text/HTML
fallback next to the widget view, and background jobs that leave the kernel free."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .._display import esc
from ..errors import AgnesError

log = logging.getLogger(__name__)
T = TypeVar("T")


def error_of(exc: BaseException) -> dict[str, str]:
    """An exception as the widgets show it: ``{"message", "hint"}`` — the error's one line and its
    hint for Agnes errors; for anything else its type and text (the traceback goes to the log)."""
    if isinstance(exc, AgnesError):
        return {"message": exc.one_line(), "hint": exc.hint or ""}
    log.warning("agnes widget: unexpected error", exc_info=exc)
    return {"message": f"{type(exc).__name__}: {exc}",
            "hint": "This is unexpected; the kernel's log has the details."}


def error_html(error: dict[str, str] | None) -> str:
    """An error line and its hint, escaped (empty when there is none)."""
    if not error or not error.get("message"):
        return ""
    hint = (f'<div class="jp-agnes-w-hint" style="color:var(--jp-ui-font-color2, inherit)">hint: '
            f'{esc(error["hint"])}</div>') if error.get("hint") else ""
    # Inline colours too: a fallback shown outside the widget (nbconvert, GitHub) has no style sheet.
    return (f'<div class="jp-agnes-w-error" role="alert" style="color:var(--jp-error-color1, inherit);'
            f'border-left:3px solid var(--jp-error-color1, currentColor);padding:2px 8px">'
            f'{esc(error["message"])}{hint}</div>')


def error_text(error: dict[str, str] | None) -> str:
    if not error or not error.get("message"):
        return ""
    return error["message"] + (f"\nhint: {error['hint']}" if error.get("hint") else "")


#: The widgets' style: JupyterLab theme variables only, so the light and the dark theme both read.
STYLE = """
<style>
.jp-agnes-w { color: var(--jp-ui-font-color1); font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1); }
.jp-agnes-w-error { color: var(--jp-error-color1); border-left: 3px solid var(--jp-error-color1);
  padding: 2px 8px; margin: 4px 0; background: var(--jp-layout-color1); }
.jp-agnes-w-hint { color: var(--jp-ui-font-color2); }
.jp-agnes-w-note { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); }
.jp-agnes-w-pkg { margin: 0 0 8px 0; }
.jp-agnes-w-pkg .agnes-package { margin-bottom: 2px; }
.jp-agnes-w-card { border: 1px solid var(--jp-border-color2); border-radius: 8px; padding: 4px 8px;
  margin: 4px 0; background: var(--jp-layout-color1); }
.jp-agnes-w-confirm { border: 1px solid var(--jp-warn-color1); border-radius: 6px; padding: 4px 8px; }
.jp-agnes-w-done { border-left: 3px solid var(--jp-success-color1); padding: 2px 8px; }
</style>
"""


class Fallback:
    """Mix into a widget: its MIME bundle carries ``text/plain`` and ``text/html`` next to the
    widget view, so a front end without the widget (nbconvert, GitHub, nbval) shows them."""

    def _fallback_text(self) -> str:
        raise NotImplementedError

    def _fallback_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = self._fallback_text()
        data["text/html"] = self._fallback_html()
        return data, metadata

    def __repr__(self) -> str:
        return self._fallback_text()


def in_background(fn: Callable[[], T], name: str) -> Future[T]:
    """Run ``fn`` in a daemon thread (the kernel stays free for other cells); its future."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the future's reader
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
