"""The one collection base: every list the kernel shows (catalog, packages, recipes, My Stack,
admin records) has len, iteration, indexing by position and id, a KeyError naming close ids,
to_pandas and displays in the JupyterLab theme with user text escaped."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

import agnes_jupyter as agnes
from agnes_jupyter._catalog import Catalog
from agnes_jupyter._collection import Collection, NotInCollection
from agnes_jupyter._packages import Package, PackageList, PackageTables, Recipe, RecipeList, Stack
from agnes_jupyter._records import Records
from tests._live import LiveServer

EVIL = "<script>alert(1)</script>"


def _catalog() -> Catalog:
    return Catalog([
        {"id": "orders", "source": "demo", "query_mode": "local", "rows": 250000, "size_bytes": 2048,
         "uncompressed_bytes": 8192,
         "freshness": "fresh", "updated": "2026-01-01T00:00:00Z", "description": f"orders {EVIL}"},
        {"id": "events", "source": "demo", "query_mode": "remote", "rows": None, "size_bytes": None,
         "freshness": "stale", "refreshed_at": None, "description": ""},
        {"id": "customers", "source": "demo", "query_mode": "local", "freshness": "error"},
    ])


def _package(slug: str = "sales", **extra: object) -> dict[str, object]:
    return {"slug": slug, "title": f"Sales {EVIL}", "lifecycle": "prod", "description": "d", "tags": ["t"],
            "tables": [{"id": "orders", "name": "orders", "query_mode": "local", "readable": True}],
            "requirement": "required", "in_stack": True, "curated": True, "new": True,
            "example_questions": [EVIL], **extra}


def _recipe(slug: str = "top", **extra: object) -> dict[str, object]:
    return {"slug": slug, "title": f"Top {EVIL}", "description": EVIL, "sql": "SELECT 1 -- <b>",
            "parameters": [{"name": "n", "type": "integer", "default": 3, "description": EVIL}],
            "mode": "local", "tables": ["orders"], "runnable": False, **extra}


def _stack() -> Stack:
    return Stack({"packages": [_package()], "recipes": [_recipe()],
                  "tables": [{"id": "events", "name": f"Events {EVIL}", "query_mode": "remote", "required": True}]})


def _collections() -> dict[str, Collection[object]]:
    return {
        "catalog": _catalog(),  # type: ignore[dict-item]
        "packages": PackageList([_package(), _package("ops", lifecycle="poc", requirement=None, in_stack=False)]),
        "recipes": RecipeList([_recipe(), _recipe("daily", mode="remote", runnable=True)]),  # type: ignore[dict-item]
        "stack": _stack(),  # type: ignore[dict-item]
        "records": Records([{"name": "alice", "groups": ["a"]}, {"name": f"bob {EVIL}", "groups": []}],  # type: ignore[dict-item]
                           ["name", "groups"], "Users"),
    }


def test_len_iteration_and_ids_follow_the_items() -> None:
    cat = _catalog()
    assert len(cat) == 3
    assert [t["id"] for t in cat] == cat.ids == ["orders", "events", "customers"]
    assert cat.tables is cat.items  # the historical attribute is the same list
    packages = PackageList([_package(), _package("ops")])
    assert packages.ids == packages.slugs == ["sales", "ops"]
    assert all(isinstance(p, Package) for p in packages)
    assert packages.packages == list(packages)
    recipes = RecipeList([_recipe(), _recipe("daily")])
    assert recipes.ids == recipes.slugs == ["top", "daily"]
    assert all(isinstance(r, Recipe) for r in recipes.recipes)
    stack = _stack()
    assert len(stack) == 3
    assert [(i["kind"], i["id"]) for i in stack] == [("package", "sales"), ("recipe", "top"), ("table", "events")]
    assert (stack.packages.ids, stack.recipes.ids, stack.tables.ids) == (["sales"], ["top"], ["events"])
    assert len(Catalog([])) == 0
    assert list(Catalog([])) == []


def test_index_by_id_and_by_position() -> None:
    cat = _catalog()
    assert cat["events"]["query_mode"] == "remote"
    assert cat[0]["id"] == "orders"
    assert cat[-1]["id"] == "customers"
    assert [t["id"] for t in cat[1:]] == ["events", "customers"]
    assert "events" in cat
    assert "evnts" not in cat
    with pytest.raises(IndexError):
        cat[3]
    assert cat.get("nope") is None
    assert PackageList([_package()])["sales"].title == f"Sales {EVIL}"
    assert RecipeList([_recipe()])["top"].mode == "local"
    assert _stack()["events"]["kind"] == "table"
    assert Records([{"username": "ann"}, {"username": "bo"}], ["username"])["bo"] == {"username": "bo"}


def test_a_missing_id_is_a_key_error_that_names_the_close_ids() -> None:
    cat = _catalog()
    with pytest.raises(KeyError) as err:
        cat["evnts"]
    exc = err.value
    assert isinstance(exc, NotInCollection)
    assert isinstance(exc, agnes.NotFound)  # one line and a hint in a notebook
    assert exc.message == "no table 'evnts' here — did you mean 'events'?"
    assert str(exc) == exc.message + "\nhint: " + exc.hint  # plain scripts see the hint too
    assert exc.suggestions == ["events"]
    assert exc.hint == "The tables here: orders, events, customers."
    assert exc._render_traceback_()[0].endswith("no table 'evnts' here — did you mean 'events'?")
    with pytest.raises(KeyError, match="did you mean 'sales'"):
        PackageList([_package()])["sale"]
    with pytest.raises(KeyError) as far:
        RecipeList([_recipe()])["zzzzzz"]
    assert "did you mean" not in str(far.value)
    assert far.value.suggestions == []  # type: ignore[attr-defined]
    many = Catalog([{"id": f"t{i:02d}"} for i in range(20)])
    with pytest.raises(KeyError) as lots:
        many["nope"]
    assert lots.value.hint == ".ids lists the 20 tables here."  # type: ignore[attr-defined]


def test_to_pandas_has_one_row_per_item_and_stable_columns() -> None:
    assert list(_catalog().to_pandas()["id"]) == ["orders", "events", "customers"]
    packages = PackageList([_package()]).to_pandas()
    assert list(packages.columns) == ["slug", "title", "lifecycle", "description", "category", "owner", "tags",
                                      "tables", "requirement", "in_stack"]
    assert packages.loc[0, "tables"] == ["orders"]
    recipes = RecipeList([_recipe()]).to_pandas()
    assert list(recipes.columns) == ["slug", "title", "mode", "description", "parameters", "tables", "requirement",
                                     "in_stack", "runnable"]
    assert recipes.loc[0, "parameters"] == ["n"]
    stack = _stack().to_pandas()
    assert list(stack.columns) == ["kind", "id", "title", "why", "tables", "mode"]
    assert list(stack["kind"]) == ["package", "recipe", "table"]
    # an empty list still has its columns, so code written against them runs on it
    empty = list(Catalog([]).to_pandas().columns)
    assert {"id", "query_mode", "rows", "size_bytes", "uncompressed_bytes", "freshness"} <= set(empty)
    assert set(empty) <= set(_catalog().to_pandas().columns) | {"name", "refreshed_at", "updated", "packages"}
    assert list(PackageList([]).to_pandas().columns) == list(packages.columns)
    assert list(Stack({"packages": [], "recipes": [], "tables": []}).to_pandas().columns) == list(stack.columns)


def test_text_repr_is_a_heading_and_a_table() -> None:
    lines = repr(_catalog()).splitlines()
    assert lines[0] == "Agnes catalog: 3 table(s)"
    assert lines[1].split() == ["id", "source", "mode", "rows", "on", "disk", "uncompressed", "freshness",
                                "description"]
    assert lines[3].split()[:8] == ["orders", "demo", "local", "250,000", "2.0", "KiB", "8.0", "KiB"]
    assert repr(PackageList([_package()])).splitlines()[0] == "1 package(s)"
    assert repr(RecipeList([_recipe()])).splitlines()[0] == "1 recipe(s)"
    assert repr(_stack()).splitlines()[0] == "My Stack: 1 package(s), 1 recipe(s), 1 table(s)"
    assert repr(Stack({"packages": [], "recipes": [], "tables": []})).startswith("your stack is empty")
    assert repr(PackageList([])).startswith("no data packages for you yet")


STYLE = re.compile(r'style="([^"]*)"')
COLOUR_PROPS = re.compile(r"(?:^|;)\s*(color|background(?:-color)?|border(?:-[a-z]+)?)\s*:\s*([^;]*)")


def _assert_themed(html: str) -> None:
    """Every colour in the HTML is a JupyterLab theme variable: no hex, rgb or named colours."""
    styles = STYLE.findall(html)
    assert styles
    for style in styles:
        assert "#" not in style, style
        for prop, value in COLOUR_PROPS.findall(style):
            if prop.startswith("border") and not re.search(r"solid|dashed|dotted", value):
                continue  # border-radius and the like
            assert value.strip().startswith("var(--jp-") or re.fullmatch(r"1px solid var\(--jp-[^;]*", value), \
                f"{prop}: {value}"
            assert not re.search(r"\b(white|black|gr[ae]y|silver|rgba?|hsla?)\b", value), f"{prop}: {value}"


def test_html_uses_theme_variables_not_fixed_colours() -> None:
    for name, collection in _collections().items():
        html = collection._repr_html_()
        _assert_themed(html)
        assert 'class="agnes-' in html, name
    _assert_themed(Recipe(_recipe())._repr_html_())
    pkg = Package(_package())
    # no server here: set what the catalog would have said of the package's tables
    pkg._tables = PackageTables("sales", [{**_catalog()["orders"], "readable": True},
                                          {"id": "secret", "readable": False}])
    _assert_themed(pkg._repr_html_())
    assert "no access" in pkg._repr_html_()


def test_html_escapes_user_text() -> None:
    for name, collection in _collections().items():
        html = collection._repr_html_()
        assert "<script>" not in html, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, name
    assert "<script>" not in Recipe(_recipe())._repr_html_()
    assert "SELECT 1 -- &lt;b&gt;" in Recipe(_recipe())._repr_html_()
    empty = Catalog([])._repr_html_()
    assert empty.startswith('<p class="agnes-empty"')


@pytest.fixture
def evil_slug(connected: LiveServer) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    connected.request("POST", "agnes/v1/admin/packages", {
        "slug": name, "title": f"Pkg {EVIL}", "lifecycle": "poc", "tables": ["orders"],
        "description": EVIL, "example_questions": [EVIL]})
    connected.request("POST", "agnes/v1/admin/recipes", {
        "slug": name, "title": f"Recipe {EVIL}", "description": EVIL, "sql": "SELECT * FROM orders LIMIT 1"})
    yield name
    for kind in ("packages", "recipes"):
        connected.request("DELETE", f"agnes/v1/admin/{kind}/{name}")


def test_every_collection_from_the_server_shares_the_base(evil_slug: str) -> None:
    """What the server sends, through the public API: one base, themed and escaped HTML."""
    agnes.add_to_stack(evil_slug)
    try:
        shown = {"catalog": agnes.catalog(), "packages": agnes.packages(), "recipes": agnes.recipes(),
                 "stack": agnes.stack(), "package tables": agnes.package(evil_slug).tables}
        for name, collection in shown.items():
            assert isinstance(collection, Collection), name
            assert len(collection) == len(list(collection)) == len(collection.ids) > 0, name
            first = collection.ids[0]
            assert collection[first] is collection[0], name
            assert len(collection.to_pandas()) == len(collection), name
            html = collection._repr_html_()
            _assert_themed(html)
            assert "<script>" not in html, name
        for name in ("packages", "recipes", "stack"):
            assert evil_slug in shown[name].ids
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown[name]._repr_html_(), name
        _assert_themed(agnes.package(evil_slug)._repr_html_())
        _assert_themed(agnes.recipe(evil_slug)._repr_html_())
    finally:
        agnes.remove_from_stack(evil_slug)
