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
from agnes_jupyter._packages import Package
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
    assert set(agnes.package(slug).tables.ids) == {"orders", "customers"}
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

    shell.run_cell(f"agnes_inserted = __import__('agnes_jupyter').recipe({slug!r}).insert(status='paid', n=3)")
    text = shell.rl_next_input  # what JupyterLab puts in the new cell below
    assert text == shell.user_ns["agnes_inserted"].text
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
    text = recipe.insert(day="2026-01-05").text
    name = slug.replace("-", "_")
    assert text.startswith(f"%%agnes --remote --as {name}\n")
    result = shell.run_cell(text)
    assert result.success, result.error_in_exec
    counts = result.result.to_pyarrow().column("n").to_pylist()
    assert sum(counts) > 0
    assert name in [s["name"] for s in agnes.snapshots()]


def test_a_package_is_an_object_with_its_tables_and_stack_methods(connected: LiveServer, slug: str) -> None:
    connected.request("POST", "agnes/v1/admin/packages", {
        "slug": slug, "title": "Events & <orders>", "lifecycle": "poc", "description": "What <users> do.",
        "owner_name": "Ann", "owner_team": "Data", "tags": ["web"], "tables": ["orders", "events"],
        "when_to_use": ["Funnels"], "example_questions": ["How many <signups>?"]})
    pkg = agnes.package(slug)
    assert isinstance(pkg, Package)
    assert (pkg.slug, pkg.title, pkg.lifecycle) == (slug, "Events & <orders>", "poc")
    assert pkg.description == "What <users> do."
    assert (pkg.owner, pkg.tags, pkg.example_questions, pkg.when_to_use) == (
        "Ann · Data", ["web"], ["How many <signups>?"], ["Funnels"])
    assert pkg.requirement is None  # the owner is an admin: sees it without a grant
    assert pkg.in_stack is False
    assert pkg.to_dict()["slug"] == slug
    assert pkg["title"] == "Events & <orders>"  # the payload's fields, as the old dict gave them

    tables = pkg.tables  # a collection, with what the catalog knows of each table
    assert tables.ids == ["orders", "events"]
    assert tables["events"]["query_mode"] == "remote"
    assert tables["orders"]["freshness"] == agnes.catalog()["orders"]["freshness"]
    assert list(tables.to_pandas()["id"]) == ["orders", "events"]

    text = repr(pkg)
    assert text.startswith(f"package {slug!r}: Events & <orders> (poc)")
    assert "ask: How many <signups>?" in text
    assert "events" in text
    assert "remote" in text
    html = pkg._repr_html_()
    assert "Events &amp; &lt;orders&gt;" in html
    assert "How many &lt;signups&gt;?" in html
    assert "<orders>" not in html
    assert "<signups>" not in html
    for mode_or_freshness in ("remote", "local", tables["events"]["freshness"]):
        assert f">{mode_or_freshness}</span>" in html  # a badge per table: mode and freshness

    stack = pkg.add_to_stack()
    assert slug in stack.packages.ids
    assert pkg.in_stack
    assert agnes.package(slug).in_stack
    pkg.remove_from_stack()
    assert not pkg.in_stack
    assert slug not in agnes.stack().packages.ids


def test_browse_and_stack_index_packages_by_slug(connected: LiveServer) -> None:
    browse = agnes.packages()
    assert browse.ids == browse.slugs == [p.slug for p in browse]
    sales = browse["sales"]
    assert isinstance(sales, Package)
    assert sales is browse[browse.ids.index("sales")]
    assert agnes.stack()["sales"]["kind"] == "package"  # required for Everyone in the demo
    assert isinstance(agnes.stack().packages["sales"], Package)
    with pytest.raises(KeyError, match="did you mean 'sales'"):
        browse["slaes"]


def test_insert_shows_one_line_not_the_sql(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    result = shell.run_cell("import agnes_jupyter as agnes\nagnes.recipe('top-customers').insert(country='SK', n=3)")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out.strip()
    assert out.endswith("inserted a cell below running recipe 'top-customers'")
    assert len(out.splitlines()) == 1
    assert "SELECT" not in out
    assert "\\n" not in out
    assert shell.rl_next_input.startswith("%%agnes\n-- recipe top-customers")
    assert str(result.result) == result.result.text == shell.rl_next_input


def test_insert_outside_ipython_prints_the_cell(connected: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    inserted = agnes.recipe("top-customers").insert(country="SK", n=3)
    assert capsys.readouterr().out == inserted.text + "\n"
    assert "not in a notebook" in repr(inserted)
