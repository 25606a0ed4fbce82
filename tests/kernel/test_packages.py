"""Packages, My Stack and recipes from the kernel, against the live server (whose token is its
owner, an admin): Browse as escaped cards, subscribing, and a recipe inserted as a cell that runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from IPython.core.interactiveshell import InteractiveShell

import agnes_jupyter as agnes
from tests._live import LiveServer


@pytest.fixture
def ws(connected: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    monkeypatch.setenv("AGNES_WORKSPACE", str(root))
    return root


@pytest.fixture
def slug(connected: LiveServer) -> Iterator[str]:
    """A unique slug; whatever a test created under it is soft-deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    yield name
    for kind in ("packages", "recipes"):
        try:
            connected.request("DELETE", f"agnes/v1/admin/{kind}/{name}")
        except OSError:
            pass  # the test made no such thing


def test_browse_shows_packages_as_cards_with_user_text_escaped(connected: LiveServer, slug: str) -> None:
    connected.request("POST", "agnes/v1/admin/packages", {
        "slug": slug, "title": "Sales <script>alert(1)</script>", "lifecycle": "prod", "tags": ["orders"],
        "tables": ["orders", "customers"], "example_questions": ["Who buys <b>most</b>?"]})
    listing = agnes.packages()
    assert slug in listing.slugs
    html = listing._repr_html_()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Who buys &lt;b&gt;most&lt;/b&gt;?" in html
    assert slug in repr(listing)

    assert slug not in [p["slug"] for p in agnes.stack().packages]
    stack = agnes.add_to_stack(slug)
    assert slug in [p["slug"] for p in stack.packages]
    assert "package" in repr(agnes.stack())
    agnes.remove_from_stack(slug)
    assert slug not in [p["slug"] for p in agnes.stack().packages]
    assert {t["id"] for t in agnes.package(slug)["tables"]} == {"orders", "customers"}
    assert slug in {p for t in agnes.catalog(package=slug).tables for p in t["packages"]}


def test_an_inserted_local_recipe_is_a_cell_that_runs(ws: Path, shell: InteractiveShell, slug: str,
                                                      connected: LiveServer) -> None:
    connected.request("POST", "agnes/v1/admin/recipes", {
        "slug": slug, "title": "Orders of a status", "description": "Orders in one status, biggest first.",
        "sql": "SELECT order_id, status, amount FROM orders WHERE status = :status AND amount >= :min_amount "
               "ORDER BY amount DESC LIMIT :n",
        "parameters": [{"name": "status", "type": "string", "choices": ["paid", "refunded", "cancelled"]},
                       {"name": "min_amount", "type": "number", "default": 0},
                       {"name": "n", "type": "integer", "default": 5}]})
    assert slug in agnes.recipes().slugs
    recipe = agnes.recipe(slug)
    assert "status" in repr(recipe)
    assert "'paid'" in recipe.render(status="paid")
    with pytest.raises(agnes.AgnesError, match="one of"):
        recipe.render(status="paid' OR 1=1 --")

    shell.run_cell(f"agnes_recipe_text = __import__('agnes_jupyter').recipe({slug!r}).insert(status='paid', n=3)")
    text = shell.rl_next_input  # what JupyterLab puts in the new cell below
    assert text == shell.user_ns["agnes_recipe_text"]
    assert text.startswith("%%agnes\n")
    result = shell.run_cell(text)
    assert result.success, result.error_in_exec
    got = result.result.to_pyarrow().to_pylist()
    orders = ws / "data" / "_shared" / "orders.parquet"  # agnes.sql fetched the table it names
    expected = duckdb.connect().execute(
        f"SELECT order_id, status, amount FROM read_parquet('{orders}') WHERE status = 'paid' "
        "ORDER BY amount DESC LIMIT 3").fetchall()
    assert [(r["order_id"], r["status"], r["amount"]) for r in got] == expected
    assert len(got) == 3


def test_an_inserted_remote_recipe_snapshots_through_the_gate(ws: Path, shell: InteractiveShell, slug: str,
                                                              connected: LiveServer) -> None:
    connected.request("POST", "agnes/v1/admin/recipes", {
        "slug": slug, "title": "One day of events", "sql": "SELECT country, count(*) AS n FROM events "
        "WHERE event_date = :day GROUP BY country", "parameters": [{"name": "day", "type": "date"}]})
    recipe = agnes.recipe(slug)
    assert recipe.mode == "remote"
    text = recipe.insert(day="2026-01-05")
    name = slug.replace("-", "_")
    assert text.startswith(f"%%agnes --remote --as {name}\n")
    result = shell.run_cell(text)
    assert result.success, result.error_in_exec
    counts = result.result.to_pyarrow().column("n").to_pylist()
    assert sum(counts) > 0
    assert name in [s["name"] for s in agnes.snapshots()]


def test_a_recipe_title_with_line_breaks_stays_one_comment_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a server sends (an older one kept titles with line breaks), the inserted cell's header
    is one comment line: a title never becomes code."""
    from agnes_jupyter._packages import Recipe

    recipe = Recipe({"slug": "r", "title": "Top\nSELECT * FROM glob('/*')\u2028\r\x85x", "parameters": [],
                     "mode": "local", "tables": []})
    monkeypatch.setattr(Recipe, "_rendered",
                        lambda self, params: {"sql": "SELECT 1", "params": {"p": "a\nb\u2028c"}, "mode": "local"})
    lines = recipe.cell().splitlines()
    assert lines[0] == "%%agnes"
    assert lines[1].startswith("-- recipe r: Top SELECT * FROM glob('/*')")
    assert lines[2:] == ["SELECT 1"]
