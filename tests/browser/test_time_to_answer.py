"""notebooks/00-time-to-answer.ipynb run in JupyterLab (headless Chromium): Run All shows the
estimate, the answer as a table and the chart, in the light and the dark theme."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests._live import LiveServer

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "00-time-to-answer.ipynb"


def _fresh_copy(server: LiveServer, name: str) -> str:
    """The notebook without its recorded outputs, in the server's notebook folder."""
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    target = server.root / "notebooks" / name
    target.write_text(json.dumps(nb))
    return name


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_time_to_answer_runs_in_jupyterlab_and_shows_the_table_and_the_chart(
        browser, live_server: LiveServer, output_dir: Path, theme: str) -> None:
    name = _fresh_copy(live_server, f"time-to-answer-{theme.split()[-1].lower()}.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{live_server.url}lab/tree/{name}?reset&token={live_server.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
        page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
        page.wait_for_function(
            "t => document.body.dataset.jpThemeName === t", arg=theme, timeout=60_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.locator(".jp-OutputArea-output img").first.wait_for(timeout=240_000)  # the chart
        except Exception:
            page.screenshot(path=str(output_dir / "time-to-answer-failed.png"), full_page=True)
            raise
        estimate = page.locator(".agnes-estimate")
        assert estimate.count() == 1
        assert "runs without confirmation" in estimate.inner_text()
        table = page.locator(".jp-OutputArea-output table.dataframe")
        assert table.count() >= 1
        assert "consumer" in table.first.inner_text()
        assert len(table.first.locator("tbody tr").all()) == 30  # one row per day
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert any("agnes: scanning" in text for text in outputs)
        assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                ":text('Traceback')").count()
        for selector, label in ((".agnes-estimate", "estimate"), ("table.dataframe", "answer"),
                                (".jp-OutputArea-output img", "chart")):
            page.locator(selector).first.scroll_into_view_if_needed()
            page.screenshot(path=str(output_dir / f"time-to-answer-{label}-{theme.split()[-1].lower()}.png"))
    finally:
        page.close()
        shutil.rmtree(live_server.root / "notebooks" / ".ipynb_checkpoints", ignore_errors=True)


def test_a_sql_cell_shows_its_rows_and_a_refused_scan_stops_the_cell(browser, live_server: LiveServer,
                                                                     output_dir: Path) -> None:
    nb = {"cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "%load_ext agnes_jupyter"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "%%agnes --remote -n 5\nSELECT country, count(*) AS events, round(sum(amount), 2) AS revenue\n"
                   "FROM events GROUP BY 1 ORDER BY 2 DESC"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "%agnes snapshot create events --as everything"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "print('after the refused scan')"},
    ], "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}
    (live_server.root / "notebooks" / "sql-cell.ipynb").write_text(json.dumps(nb))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{live_server.url}lab/tree/sql-cell.ipynb?reset&token={live_server.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                             has_text="ConfirmationRequired")
        try:
            error.first.wait_for(timeout=120_000)
        except Exception:
            page.screenshot(path=str(output_dir / "sql-cell-failed.png"), full_page=True)
            raise
        result = page.locator(".agnes-result")
        assert result.count() == 1
        assert len(result.locator("tbody tr").all()) == 5
        assert "scanned" in result.inner_text()
        assert "Traceback" not in error.first.inner_text()
        assert "hint:" in error.first.inner_text()
        # the refused scan failed its cell: Run All stopped before the next one
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert not any("after the refused scan" in text for text in outputs)
        page.screenshot(path=str(output_dir / "sql-cell.png"))
    finally:
        page.close()
