"""``estimate(expr_or_sql)``: the gate's estimate of a scan as a card (bytes, rows, cost, verdict,
budget left) with *Snapshot as…*: a name, a confirmation step when the scan is above the gate's
confirmation threshold, progress while it runs, then the snapshot's first rows below.

The work is the kernel library's own: :func:`agnes_jupyter._estimate.estimate` and the
snapshot runner of :mod:`agnes_jupyter._snapshots` (with a progress callback)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import ipywidgets as w

from .._display import esc, human_bytes, human_count
from .._estimate import VERDICT_TEXT, Estimate, scan_request
from .._estimate import estimate as _estimate
from .._snapshots import _run_snapshot, _same_request, check_target
from .._workspace import Workspace, workspace
from ..errors import SnapshotExists
from ._common import STYLE, Fallback, error_html, error_of, error_text, in_background

#: Rows of the snapshot shown below the card when it is done.
PREVIEW_ROWS = 10


class EstimateWidget(Fallback, w.VBox):
    """The estimate card (see :func:`agnes_jupyter.widgets.estimate`). ``state`` is ``ready``,
    ``confirming``, ``running``, ``done`` or ``failed``."""

    def __init__(self, expr_or_sql: Any) -> None:
        self.estimate: Estimate | None = None
        self.body: dict[str, Any] | None = None
        self.error: dict[str, str] = {}
        self.state = "ready"
        self.snapshot_name: str | None = None
        self.result: Any = None
        self.card = w.HTML("")
        self.card.add_class("jp-agnes-w-estimate")
        self.name = w.Text(placeholder="snapshot name", layout=w.Layout(width="220px"))
        self.name.add_class("jp-agnes-w-name")
        self.snapshot_button = w.Button(description="Snapshot as…", icon="camera", button_style="primary",
                                        tooltip="Run the scan and keep its result as a snapshot with this name")
        self.snapshot_button.add_class("jp-agnes-w-snapshot")
        self.confirm_text = w.HTML("")
        self.confirm_button = w.Button(description="Confirm and snapshot", button_style="warning",
                                       layout=w.Layout(width="auto"))
        self.confirm_button.add_class("jp-agnes-w-confirm-run")
        self.cancel_button = w.Button(description="Cancel")
        self.confirm_box = w.VBox([self.confirm_text, w.HBox([self.confirm_button, self.cancel_button])],
                                  layout=w.Layout(display="none"))
        self.confirm_box.add_class("jp-agnes-w-confirm")
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0,
                                        layout=w.Layout(width="320px", visibility="hidden"))
        self.progress.add_class("jp-agnes-w-progress")
        self.progress_text = w.HTML("")
        self.message = w.HTML("")
        self.message.add_class("jp-agnes-w-message")
        self.output = w.HTML("")
        self.output.add_class("jp-agnes-w-result")
        self.snapshot_button.on_click(lambda _b: self.snapshot_as(self.name.value))
        self.confirm_button.on_click(lambda _b: self.confirm())
        self.cancel_button.on_click(lambda _b: self.cancel())
        super().__init__([w.HTML(STYLE), self.card, w.HBox([self.name, self.snapshot_button]), self.confirm_box,
                          w.HBox([self.progress, self.progress_text]), self.message, self.output])
        self.add_class("jp-agnes-w")
        self.add_class("jp-agnes-w-estimate-card")
        try:
            self.body = scan_request(expr_or_sql)
            self.estimate = _estimate(expr_or_sql)
            self.card.value = self.estimate._repr_html_()
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._fail(exc)
            self.snapshot_button.disabled = True

    # -- the model ---------------------------------------------------------------------------------

    @property
    def fields(self) -> dict[str, Any]:
        """What the card shows: bytes, rows, cost, verdict and the budget left today."""
        if self.estimate is None:
            return {}
        p = self.estimate.payload
        limits = p["limits"]
        return {"scan_bytes": p["scan_bytes"], "result_rows": p.get("result_rows"), "cost_usd": p["cost_usd"],
                "verdict": p["verdict"],
                "budget_left_bytes": max(0, int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"])),
                "confirm_above_bytes": int(limits["scan_confirm_bytes"])}

    @property
    def needs_confirmation(self) -> bool:
        f = self.fields
        return bool(f) and (f["verdict"] == "needs_confirmation" or f["scan_bytes"] > f["confirm_above_bytes"])

    def snapshot_as(self, name: str) -> Future[Any] | None:
        """Snapshot the scan as ``name``: above the confirmation threshold this only asks (see
        :meth:`confirm`); otherwise it starts, and the future is the snapshot's table."""
        self.error, self.message.value = {}, ""
        if self.estimate is None or self.body is None:
            return None
        try:
            existing = check_target(workspace(), name)
            if existing is not None and not _same_request(existing.get("request"), self.body):
                raise SnapshotExists(f"snapshot {name!r} already exists with a different query",
                                     hint="Choose another name, or agnes.drop_snapshot(name) first.",
                                     details={"name": name})
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._fail(exc)
            return None
        self.snapshot_name = name
        if existing is not None:  # the same query under this name: use it, as agnes.snapshot() does
            return self._start(lambda ws: existing, reused=True)
        if self.needs_confirmation:
            f = self.fields
            self.state = "confirming"
            self.confirm_text.value = (
                f'<div class="jp-agnes-w-note">This scan reads <b>{esc(human_bytes(f["scan_bytes"]))}</b>, above '
                f'the confirmation threshold of {esc(human_bytes(f["confirm_above_bytes"]))} (cost '
                f'${f["cost_usd"]:.4f}; {esc(human_bytes(f["budget_left_bytes"]))} of budget left today). '
                f"Snapshot it as <code>{esc(name)}</code>?</div>")
            self.confirm_box.layout.display = "flex"
            return None
        return self._run(confirmed=False)

    def confirm(self) -> Future[Any] | None:
        """Confirm the pending snapshot (above the threshold) and run it; a future of its table."""
        if self.state != "confirming":
            return None
        return self._run(confirmed=True)

    def cancel(self) -> None:
        self.state = "ready"
        self.confirm_box.layout.display = "none"

    def _run(self, confirmed: bool) -> Future[Any]:
        name, body = self.snapshot_name, self.body
        assert name is not None
        assert body is not None
        return self._start(lambda ws: _run_snapshot(ws, name, body, confirmed, self._on_progress), reused=False)

    def _start(self, make: Callable[[Workspace], dict[str, Any]], reused: bool) -> Future[Any]:
        """Make (or reuse) the snapshot in the background, then show its first rows."""
        name = self.snapshot_name
        assert name is not None
        self.state = "running"
        self.confirm_box.layout.display = "none"
        self.snapshot_button.disabled = True
        self.progress.value, self.progress.max, self.progress.bar_style = 0.0, 1.0, ""
        self.progress.layout.visibility = "visible"
        self.progress_text.value = "starting…"
        self.output.value = ""

        def run() -> Any:
            ws = workspace()
            try:
                meta = make(ws)
                table = ws.con.table(name)
                preview = table.head(PREVIEW_ROWS).to_pandas()
            except Exception as exc:
                self.state = "failed"
                self.progress.bar_style = "danger"
                self.progress_text.value = ""
                self._fail(exc)
                raise
            finally:
                self.snapshot_button.disabled = False
            self.result = table
            self.state = "done"
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            self.progress_text.value = "already there: this query's snapshot is reused" if reused else "done"
            truncated = (f'<div class="jp-agnes-w-error">TRUNCATED at {meta["rows"]:,} rows: the result reached '
                         f'{esc(meta.get("truncated_reason"))}. Narrow the query to get every row.</div>'
                         if meta.get("truncated") else "")
            self.output.value = (
                f'<div class="jp-agnes-w-done" data-snapshot="{esc(name)}"><div>snapshot <code>{esc(name)}</code>: '
                f'{esc(human_count(meta["rows"]))} rows, {esc(human_bytes(meta["file_bytes"]))} on disk — '
                f"<code>agnes.sql('SELECT * FROM {esc(name)}')</code> reads it</div>{truncated}"
                f"{preview.to_html(index=False, max_rows=PREVIEW_ROWS, escape=True, border=0)}</div>")
            return table

        return in_background(run, "agnes-estimate-snapshot")

    def _on_progress(self, phase: str, done: int, total: int | None, message: str) -> None:
        if total:
            self.progress.max = float(total)
            self.progress.value = float(min(done, total))
            self.progress_text.value = esc(f"{phase}: {human_bytes(done)} of ≤ {human_bytes(total)}")
        else:
            self.progress_text.value = esc(f"{phase}: {message}" if message else phase)

    def _fail(self, exc: BaseException) -> None:
        self.error = error_of(exc)
        self.message.value = error_html(self.error)

    # -- fallbacks ---------------------------------------------------------------------------------

    def _fallback_text(self) -> str:
        lines = [f"Estimate: {self.estimate.summary()}" if self.estimate is not None else "Estimate: (none)"]
        if self.estimate is not None:
            f = self.fields
            lines.append(f"budget left today: {human_bytes(f['budget_left_bytes'])}; "
                         f"{VERDICT_TEXT.get(f['verdict'], f['verdict'])}")
        if self.state == "done" and self.snapshot_name:
            lines.append(f"snapshot {self.snapshot_name!r} done")
        if self.error:
            lines.append(error_text(self.error))
        return "\n".join(lines)

    def _fallback_html(self) -> str:
        card = self.estimate._repr_html_() if self.estimate is not None else ""
        return (f'<div class="jp-agnes-w jp-agnes-w-estimate-card">{card}{self.output.value}'
                f"{error_html(self.error)}</div>")
