"""``freshness()``: the metadata of every remote table you may read, live.

A daemon thread of the kernel reads ``GET agnes/v1/metadata/stream`` (Server-Sent Events, through
the kernel's client and its token): ``snapshot`` (the ``metadata/status`` payload and the current
run), then ``start``, ``row`` and ``complete`` of each warm-up or refresh. Row changes are
coalesced — at most one message to the front end per ``FLUSH_SECONDS`` — and sent as patches the
view applies row by row. When the stream drops the thread reconnects with a doubling back-off,
says so in the widget, and resyncs from the new snapshot. ``close()`` ends the thread and closes
the response."""

from __future__ import annotations

import json
import logging
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anywidget
import traitlets as t

from .._client import Client
from .._client import current as _client
from .._display import esc, human_age, human_bytes, human_count, text_table
from ..errors import AgnesError
from ._common import Fallback, error_html, error_of, error_text, in_background

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: Row changes are sent to the front end at most this often (500 rows warming → a few messages).
FLUSH_SECONDS = 0.1
#: The first wait before reconnecting after the stream dropped; doubles up to ``BACKOFF_MAX``.
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
#: No byte for this long (the server sends a keep-alive comment every 15 s) counts as a drop.
READ_TIMEOUT = 60.0
#: The states a row can show, in the order the counts list them.
STATES = ("pending", "warming", "fresh", "stale", "no_data", "error", "never_fetched")
_FRESHNESS_STATE = {"fresh": "fresh", "stale": "stale", "error": "error", "never_fetched": "never_fetched"}
_META_FIELDS = ("rows", "size_bytes", "refreshed_at", "freshness", "error_msg", "source")


def _row_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    freshness = meta.get("freshness") or "never_fetched"
    return {"id": meta["table_id"], "source": meta.get("source"), "state": _FRESHNESS_STATE.get(freshness, freshness),
            "error": meta.get("error_msg") if freshness == "error" else None, "rows": meta.get("rows"),
            "size_bytes": meta.get("size_bytes"), "refreshed_at": meta.get("refreshed_at"),
            "freshness": freshness, "ts": None}


class FreshnessWidget(Fallback, anywidget.AnyWidget):
    """The live freshness dashboard (see :func:`agnes_jupyter.widgets.freshness`)."""

    _esm = HERE / "freshness.js"
    _css = HERE / "freshness.css"

    #: Every row (``id``, ``source``, ``state``, ``error``, ``rows``, ``size_bytes``,
    #: ``refreshed_at``, ``ts``): sent whole on a (re)sync and at the end of a run; in between the
    #: view receives ``{"type": "patch", "rows": [...]}`` messages.
    rows: t.List[dict[str, Any]] = t.List().tag(sync=True)
    #: The run in flight or the last one: ``status``, ``kind``, ``run_id``, ``total``, counts.
    run = t.Dict().tag(sync=True)
    #: The stream: ``connecting``, ``live``, ``reconnecting`` or ``closed``; ``status_text`` says it in words.
    status = t.Unicode("connecting").tag(sync=True)
    status_text = t.Unicode("connecting…").tag(sync=True)
    #: The admin actions the view offers (none for analysts: the server refuses them anyway).
    actions = t.List(t.Unicode()).tag(sync=True)
    #: The last action's error as ``{"message", "hint"}`` (empty when none).
    error = t.Dict().tag(sync=True)
    #: A short line about an admin action in flight or done.
    notice = t.Unicode("").tag(sync=True)

    def __init__(self, client: Client | None = None, *, start: bool = True) -> None:
        super().__init__()
        self._client = client or _client()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._state: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._timer: threading.Timer | None = None
        self._stop = threading.Event()
        self._response: Any = None
        self._thread: threading.Thread | None = None
        #: How many snapshots the widget has (re)synced from (1 after connecting, +1 per reconnect).
        self.syncs = 0
        self.is_admin = False
        self.on_msg(self._on_view_msg)
        try:
            self.is_admin = bool(self._client.get("me").get("is_admin"))
            self.actions = ["rewarm", "refresh"] if self.is_admin else []
            # The first state comes from the status route, so the cell shows rows at once.
            self._apply("snapshot", {"run": {"status": "never_run"}, **self._client.get("metadata/status")},
                        count_sync=False)
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self.error = error_of(exc)
        if start:
            self._thread = threading.Thread(target=self._read, name="agnes-freshness-stream", daemon=True)
            self._thread.start()

    # -- the model ---------------------------------------------------------------------------------

    @property
    def states(self) -> dict[str, str]:
        """Table id → its state now (the model's view of the table, as the front end shows it)."""
        with self._lock:
            return {tid: row["state"] for tid, row in self._state.items()}

    def row(self, table_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._state[table_id])

    def counts(self) -> dict[str, int]:
        """How many rows are in each state (states with none are left out)."""
        with self._lock:
            found = [row["state"] for row in self._state.values()]
        return {s: found.count(s) for s in (*STATES, *sorted(set(found) - set(STATES))) if s in found}

    def _apply(self, event: str, data: dict[str, Any], *, count_sync: bool = True) -> None:
        """Take one stream event into the model (the reader thread calls this for each event)."""
        rows: list[dict[str, Any]] | None = None
        run: dict[str, Any] | None = None
        with self._lock:
            if event == "snapshot":
                self._state = {m["table_id"]: _row_from_meta(m) for m in data.get("tables") or []}
                run = dict(data.get("run") or {})
                if run.get("status") == "running":
                    for r in run.get("rows") or []:
                        if r.get("table_id") in self._state:
                            self._state[r["table_id"]].update(state=r["state"], error=r.get("error"))
                run.pop("rows", None)
                self._dirty.clear()
                rows = [dict(r) for r in self._state.values()]
                if count_sync:
                    self.syncs += 1
            elif event == "start":
                for r in data.get("rows") or []:
                    row = self._state.get(r.get("table_id"))
                    if row is not None:
                        row.update(state=r.get("state") or "pending", error=None, ts=data.get("ts"))
                        self._dirty.add(row["id"])
                run = {k: v for k, v in data.items() if k != "rows"}
                run["status"] = "running"
                rows = None
            elif event == "row":
                self._row_event(data)
                run = None
                rows = None
            elif event == "complete":
                run = {**self.run, **data, "status": "complete"}
                rows = None
            else:
                return
        if event == "snapshot":
            self._cancel_flush()
            self.rows = rows or []
            self.run = run or {}
        elif event == "start":
            self.flush()
            self.run = run or {}
        elif event == "row":
            self._schedule_flush()
        elif event == "complete":
            self.flush()
            self.run = run or {}
            with self._lock:
                self.rows = [dict(r) for r in self._state.values()]
        self._notify()

    def _row_event(self, data: dict[str, Any]) -> None:
        tid = str(data.get("table_id"))
        nested = data.get("metadata")
        meta: dict[str, Any] = nested if isinstance(nested, dict) else data
        row = self._state.get(tid)
        if row is None:
            if not isinstance(nested, dict) and "freshness" not in data:
                return  # not one of the remote tables shown (a local table's schema warming)
            row = self._state[tid] = _row_from_meta({**meta, "table_id": tid})
        row.update(state=data.get("state") or row["state"], error=data.get("error"), ts=data.get("ts"))
        for key in _META_FIELDS:
            if key in meta and key != "error_msg":
                row[key] = meta[key]
        if "fetched_at" in meta and "refreshed_at" not in meta:
            row["refreshed_at"] = meta["fetched_at"]
        self._dirty.add(row["id"])

    def _schedule_flush(self) -> None:
        with self._lock:
            if self._timer is None and not self._stop.is_set():
                self._timer = threading.Timer(FLUSH_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def _cancel_flush(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def flush(self) -> None:
        """Send the rows changed since the last flush to the view, as one patch message."""
        with self._lock:
            self._timer = None
            patch = [dict(self._state[tid]) for tid in sorted(self._dirty) if tid in self._state]
            self._dirty.clear()
        if patch:
            self.send({"type": "patch", "rows": patch})

    # -- the stream --------------------------------------------------------------------------------

    def _read(self) -> None:
        delay = BACKOFF_START
        while not self._stop.is_set():
            try:
                if self._read_stream():
                    delay = BACKOFF_START  # it was live: the next drop starts the back-off again
                reason = "the server ended the stream"
            except Exception as exc:
                if self._stop.is_set():
                    break  # close() cut it
                log.debug("agnes: the freshness stream dropped", exc_info=True)
                reason = exc.one_line() if isinstance(exc, AgnesError) else type(exc).__name__
            if self._stop.is_set():
                break
            self._say("reconnecting", f"stream lost ({reason}); reconnecting in {delay:g} s…")
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX)
        self._say("closed", "closed")

    def _read_stream(self) -> bool:
        """Read the stream until it ends; whether a snapshot arrived (the stream was live)."""
        self._say("connecting", "connecting…")
        response = self._client.request("GET", "metadata/stream", stream=True, timeout=(10.0, READ_TIMEOUT),
                                        headers={"Accept": "text/event-stream"})
        with self._lock:
            self._response = response
        if self._stop.is_set():
            response.close()
            return False
        live = False
        try:
            event, data = "message", list[str]()
            for raw in response.iter_lines(chunk_size=None):
                if self._stop.is_set():
                    break
                line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                if line == "":
                    if data:
                        payload = json.loads("\n".join(data))
                        self._apply(event, payload)
                        if event == "snapshot":
                            live = True
                            self._say("live", "live")
                    event, data = "message", list[str]()
                elif line.startswith(":"):
                    continue  # a keep-alive comment
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
        finally:
            response.close()
        return live

    def _say(self, status: str, text: str) -> None:
        self.status = status
        self.status_text = text
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait(self, condition: Any, timeout: float = 60.0) -> bool:
        """Block until ``condition(widget)`` holds (checked after every change the stream brings),
        at most ``timeout`` seconds; whether it held. For scripts and notebooks run top to bottom."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)

    def wait_for_run(self, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Block until the run ``run_id`` (e.g. from ``rewarm_all().result()``) is complete; its totals."""
        if not self.wait(lambda w: w.run.get("run_id") == run_id and w.run.get("status") == "complete", timeout):
            raise TimeoutError(f"the run {run_id} did not complete within {timeout:g} s")
        return dict(self.run)

    def close(self) -> None:
        """Stop the stream (the thread ends, the response is closed) and close the widget."""
        self._stop.set()
        self._cancel_flush()
        with self._lock:
            response = self._response
        if response is not None:
            _interrupt(response)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        super().close()

    @property
    def alive(self) -> bool:
        """Whether the stream's thread is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def response_closed(self) -> bool:
        """Whether the last stream response is closed (True when none was opened)."""
        with self._lock:
            response = self._response
        return response is None or bool(response.raw.closed)

    # -- admin actions -----------------------------------------------------------------------------

    def rewarm_all(self) -> Any:
        """Start a warm-up of every table (admins); progress arrives through the stream. A future
        of the server's answer (the run)."""
        return self._action("starting a warm-up of every table…", lambda: self._client.post("admin/warmup"),
                            lambda run: f"warm-up {run.get('run_id', '')} started")

    def refresh(self, table_id: str) -> Any:
        """Refresh one remote table's metadata now (admins); a future of the server's answer."""
        return self._action(f"refreshing {table_id}…",
                            lambda: self._client.post(f"admin/metadata/refresh/{quote(table_id, safe='')}"),
                            lambda answer: f"{table_id}: {answer.get('state', 'done')}")

    def _action(self, doing: str, call: Any, done: Any) -> Any:
        self.error = {}
        self.notice = doing

        def run() -> Any:
            try:
                answer = call() or {}
            except Exception as exc:
                self.error = error_of(exc)
                self.notice = ""
                raise
            self.notice = done(answer)
            return answer

        return in_background(run, "agnes-freshness-action")

    def _on_view_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "rewarm":
            self.rewarm_all()
        elif kind == "refresh" and isinstance(content.get("table_id"), str):
            self.refresh(content["table_id"])
        elif kind == "hello":  # a view rendered late: send it every row as it is now
            with self._lock:
                rows = [dict(r) for r in self._state.values()]
            self.send({"type": "patch", "rows": rows})

    # -- fallbacks ---------------------------------------------------------------------------------

    def _table_rows(self) -> list[list[str]]:
        with self._lock:
            rows = sorted(self._state.values(), key=lambda r: r["id"])
        return [[r["id"], r["state"], human_age(r.get("refreshed_at")), human_count(r.get("rows")),
                 human_bytes(r.get("size_bytes")), r.get("error") or ""] for r in rows]

    def _summary(self) -> str:
        counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in self.counts().items()) or "no remote tables"
        run = self.run or {}
        run_text = f"; {run.get('kind', 'run')} {run['status']}" if run.get("status") in ("running", "complete") else ""
        return f"metadata freshness of {len(self._state)} remote table(s): {counts}{run_text} [{self.status_text}]"

    def _fallback_text(self) -> str:
        lines = [self._summary()]
        if self._state:
            lines.append(text_table(["table", "state", "age", "rows", "size", "error"], self._table_rows()))
        if self.error:
            lines.append(error_text(self.error))
        return "\n".join(lines)

    def _fallback_html(self) -> str:
        body = "".join(
            f'<tr data-table-id="{esc(r[0])}"><td><code>{esc(r[0])}</code></td>'
            f'<td><span class="jp-agnes-fr-state" data-state="{esc(r[1])}">{esc(r[1].replace("_", " "))}</span></td>'
            + "".join(f"<td>{esc(c)}</td>" for c in r[2:]) + "</tr>"
            for r in self._table_rows())
        table = (f'<table class="jp-agnes-fr-table"><thead><tr><th>table</th><th>state</th><th>age</th><th>rows</th>'
                 f"<th>size</th><th>error</th></tr></thead><tbody>{body}</tbody></table>") if body else ""
        return (f'<div class="jp-agnes-w jp-agnes-fr"><div>{esc(self._summary())}</div>{table}'
                f"{error_html(self.error)}</div>")


#: The dashboard each notebook cell made last: re-running the cell closes the one it made before
#: (its output is gone, and its stream would otherwise run on until the kernel stops).
_by_cell: dict[str, FreshnessWidget] = {}


def _cell_id() -> str | None:
    """The id of the notebook cell being run (JupyterLab sends it with each execute request)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        parent = shell.get_parent() if shell is not None and hasattr(shell, "get_parent") else None
        cell = ((parent or {}).get("metadata") or {}).get("cellId")
    except Exception:  # noqa: BLE001 - outside a kernel there is no cell
        return None
    return str(cell) if cell else None


def open_dashboard() -> FreshnessWidget:
    """A new dashboard; the one this cell made before (if any) is closed."""
    cell = _cell_id()
    previous = _by_cell.pop(cell, None) if cell else None
    if previous is not None:
        previous.close()
    board = FreshnessWidget()
    if cell:
        _by_cell[cell] = board
    return board


def _interrupt(response: Any) -> None:
    """Wake a thread blocked reading ``response`` (shut its socket down), then close it."""
    try:
        conn = getattr(response.raw, "connection", None) or getattr(response.raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        response.close()
    except Exception:
        log.debug("agnes: closing the freshness stream failed", exc_info=True)

