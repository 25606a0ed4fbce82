"""What a scan would read, return and cost, and the gate's verdict — before it runs."""

from __future__ import annotations

from typing import Any

from ._client import current as _client
from ._display import badge, esc, human_bytes, human_count, muted, tone_colour
from ._workspace import workspace
from .errors import ValidationError


def scan_request(obj: Any) -> dict[str, Any]:
    """The body of a scan: SQL text as given, an ibis expression over remote tables compiled to
    their dialect, or an already structured request."""
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, str):
        return {"sql": obj}
    import ibis.expr.types as ir

    if not isinstance(obj, ir.Expr):
        raise ValidationError(f"expected SQL text or an ibis expression, not {type(obj).__name__}",
                              hint="e.g. agnes.table('events').filter(...) or \"SELECT ... FROM events\"")
    from ._backend import AgnesBackend

    backend = workspace().con
    kind, _ = backend._plan(obj) if isinstance(backend, AgnesBackend) else ("local", None)
    if kind == "local":
        raise ValidationError("this expression reads local tables only: run it locally",
                              hint="Use expr.to_pandas() or agnes.sql(...); snapshots are for remote tables.")
    if kind == "mixed":
        raise ValidationError("this expression joins remote and local tables (or tables of several sources)",
                              hint="expr.to_pandas() runs it (each remote part through the gate); a snapshot "
                                   "keeps one source's query: snapshot the remote part, then join locally.")
    return {"sql": backend.source_sql(obj)}


VERDICT_TEXT = {
    "ok": "runs without confirmation",
    "needs_confirmation": "needs confirm=True",
    "too_large": "over the per-scan cap: narrow it",
    "over_budget": "over today's scan budget",
}


class Estimate:
    """What a scan would read and return, and whether the gate lets it through."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    @property
    def scan_bytes(self) -> int:
        return int(self.payload["scan_bytes"])

    @property
    def verdict(self) -> str:
        return str(self.payload["verdict"])

    @property
    def sql(self) -> str:
        return str(self.payload["sql"])

    def _basis(self) -> str:
        basis = self.payload.get("scan_bytes_basis")
        return {"uncompressed": "uncompressed column bytes", "on_disk": "bytes on disk",
                "billed": "billed bytes"}.get(str(basis), str(basis)) if basis else ""

    def summary(self) -> str:
        p = self.payload
        rows = f"≤ {human_count(p['result_rows'])} rows" if p.get("result_rows") is not None else "rows unknown"
        basis = f" ({self._basis()})" if self._basis() else ""
        return (f"scans {human_bytes(p['scan_bytes'])}{basis} of {', '.join(t['id'] for t in p['tables'])} "
                f"({p['source']}), returns {rows} / {human_bytes(p.get('result_bytes'))}; "
                f"cost ${p['cost_usd']:.4f}; verdict: {p['verdict']} ({VERDICT_TEXT.get(p['verdict'], '')})")

    def __repr__(self) -> str:
        return f"Estimate: {self.summary()}\n{self.payload['sql']}"

    def _repr_html_(self) -> str:
        p = self.payload
        limits = p["limits"]
        cap = max(limits["scan_max_bytes"], 1)
        share = min(p["scan_bytes"] / cap, 1.0) * 100
        confirm_at = min(limits["scan_confirm_bytes"] / cap, 1.0) * 100
        tone = {"ok": "success", "needs_confirmation": "warn"}.get(p["verdict"], "error")
        colour = tone_colour(tone)
        track = "var(--jp-layout-color3, rgba(128,128,128,.25))"
        bar = (f'<div title="{esc(human_bytes(p["scan_bytes"]))} of the {esc(human_bytes(cap))} per-scan cap" '
               f'style="position:relative;height:10px;width:320px;background:{track};border-radius:5px;margin:4px 0">'
               f'<div style="height:10px;width:{share:.1f}%;background:{colour};border-radius:5px"></div>'
               f'<div title="confirmation threshold" style="position:absolute;top:-2px;left:{confirm_at:.1f}%;'
               f'width:2px;height:14px;background:var(--jp-ui-font-color1, currentColor)"></div></div>')
        left = max(0, int(limits["daily_scan_bytes_per_user"]) - int(limits["daily_used_bytes"]))
        basis = f" — {self._basis()}" if self._basis() else ""
        rows = [
            ["scans", f"{human_bytes(p['scan_bytes'])}{basis} (on disk {human_bytes(p.get('compressed_bytes'))})"],
            ["returns", (f"≤ {human_count(p.get('result_rows'))} rows, " if p.get("result_rows") is not None
                         else "") + f"{human_bytes(p.get('result_bytes'))}"],
            ["cost", f"${p['cost_usd']:.4f}"],
            ["budget", f"{human_bytes(left)} left today of {human_bytes(limits['daily_scan_bytes_per_user'])}"],
            ["gate", f"confirm above {human_bytes(limits['scan_confirm_bytes'])}, cap "
                     f"{human_bytes(limits['scan_max_bytes'])}"],
        ]
        tables = ", ".join(f"{esc(t['id'])} {badge(t['freshness'], 'metadata freshness')}" for t in p["tables"])
        body = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{esc(k)}</th>"
                       f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in rows)
        return (f'<div class="agnes-estimate"><div><b>Estimate</b> {badge(p["verdict"])} '
                f'{esc(VERDICT_TEXT.get(p["verdict"], ""))}</div>{bar}'
                f'<table>{body}<tr><th style="text-align:left">tables</th><td style="text-align:left">{tables}'
                f'</td></tr></table><details><summary style="{muted()}">SQL</summary>'
                f'<pre style="white-space:pre-wrap">{esc(p["sql"])}</pre></details></div>')


class EstimateGroup(Estimate):
    """The estimates of the remote parts of one expression (a join of remote and local tables):
    ``scan_bytes`` and the cost are their sum, judged by the gate as one confirmation."""

    def __init__(self, parts: list[dict[str, Any]]) -> None:
        self.parts = [Estimate(p) for p in parts]
        total = sum(int(p["scan_bytes"]) for p in parts)
        limits = parts[-1]["limits"]
        order = ["ok", "needs_confirmation", "too_large", "over_budget"]
        verdict = max((p["verdict"] for p in parts), key=lambda v: order.index(v) if v in order else 0)
        if verdict == "ok" and total > int(limits["scan_confirm_bytes"]):
            verdict = "needs_confirmation"
        rows = [p.get("result_rows") for p in parts]
        super().__init__({
            **parts[0], "scan_bytes": total, "cost_usd": sum(float(p.get("cost_usd") or 0) for p in parts),
            "verdict": verdict, "result_rows": sum(rows) if all(r is not None for r in rows) else None,
            "result_bytes": sum(int(p.get("result_bytes") or 0) for p in parts),
            "compressed_bytes": sum(int(p.get("compressed_bytes") or 0) for p in parts),
            "tables": [t for p in parts for t in p["tables"]],
            "sql": ";\n".join(p["sql"] for p in parts),
        })


def estimate(expr_or_sql: Any) -> Estimate:
    """What a scan would read (bytes of the columns and row groups it touches), return and cost,
    and the gate's verdict — without running it. For an expression that joins remote and local
    tables, what its remote parts would read (with the columns and filters pushed into them)."""
    import ibis.expr.types as ir

    if isinstance(expr_or_sql, ir.Expr):
        from ._backend import AgnesBackend

        backend = workspace().con
        if isinstance(backend, AgnesBackend) and backend._plan(expr_or_sql)[0] == "mixed":
            queries = backend.remote_queries(expr_or_sql)
            parts = [_client().post("scans/estimate", {"sql": q}) for q in queries]
            return Estimate(parts[0]) if len(parts) == 1 else EstimateGroup(parts)
    return Estimate(_client().post("scans/estimate", scan_request(expr_or_sql)))
