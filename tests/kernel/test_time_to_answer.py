"""notebooks/00-time-to-answer.ipynb answers from a fresh kernel in at most five code cells, shows
the estimate before the scan, and its answer equals DuckDB's over the lake files directly."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

import agnes_jupyter as agnes
from tests._live import LiveServer

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "00-time-to-answer.ipynb"


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for key in ("text/plain", "text/html"):
            parts.append(str(out.get("data", {}).get(key, "")))
    return "\n".join(parts)


def test_time_to_answer_notebook_gives_duckdbs_answer_in_five_cells(
        connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) <= 5
    nb.cells.append(nbformat.v4.new_code_cell(
        'print(answer.reset_index().to_json(orient="records", date_format="iso"))'))
    # the kernel inherits the server's URL and token (set by `connected`) and a fresh workspace
    monkeypatch.setenv("AGNES_WORKSPACE", str(tmp_path / "workspace"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]

    estimate_at = next(i for i, c in enumerate(code) if "agnes.estimate(" in c.source)
    scan_at = next(i for i, c in enumerate(code) if "agnes: scanning" in _outputs_text(c))
    assert estimate_at < scan_at  # the estimate is visible before the scan runs
    assert "Estimate" in _outputs_text(code[estimate_at])
    assert any("image/png" in out.get("data", {}) for c in code for out in c.get("outputs", []))  # the chart

    got = json.loads(code[-1].outputs[0]["text"])
    lake = Path(agnes.client().get("admin/sources/demo")["options"]["path"])
    customers = tmp_path / "workspace" / "data" / "_shared" / "customers.parquet"
    ref = duckdb.connect().execute(f"""
        WITH e AS (SELECT * FROM read_parquet('{lake}/events/**/*.parquet', hive_partitioning = true)),
             last AS (SELECT max(event_date) AS d FROM e)
        SELECT strftime(event_date, '%Y-%m-%d') AS day, segment, round(sum(amount), 2) AS revenue
        FROM e JOIN read_parquet('{customers}') c ON e.user_id = c.customer_id, last
        WHERE e.country = 'CZ' AND event_date > last.d - INTERVAL 30 DAY
        GROUP BY ALL ORDER BY 1, 2""").fetchall()
    mine = sorted((row["event_date"][:10], seg, round(v, 2)) for row in got for seg, v in row.items()
                  if seg != "event_date")
    assert len({d for d, _, _ in mine}) == 30
    assert mine == [(d, s, pytest.approx(r, abs=0.011)) for d, s, r in ref]
