"""Recipes: admin CRUD with checked SQL and parameters, RBAC-filtered listing, soft delete, and
rendering that turns every value into a typed literal — never into SQL."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlglot

from .conftest import ALICE, BOB, assert_matches_openapi

TOP = {"slug": "top-customers", "title": "Top customers of a country",
       "description": "Biggest spenders in one country since a date.",
       "sql": "SELECT c.customer_id, c.country, sum(o.amount) AS spent FROM orders o "
              "JOIN customers c ON c.customer_id = o.customer_id "
              "WHERE c.country = :country AND o.order_date >= :since GROUP BY ALL ORDER BY spent DESC LIMIT :n",
       "parameters": [{"name": "country", "type": "string", "default": "CZ", "description": "ISO country code"},
                      {"name": "since", "type": "date", "default": "2024-01-01"},
                      {"name": "n", "type": "integer", "default": 10}]}


@pytest.fixture
def jp_server_config(multiuser_config):
    return multiuser_config


async def create(api, body: dict[str, Any] = TOP) -> dict[str, Any]:
    status, created, _ = await api("POST", "admin/recipes", body, token=ALICE)
    assert status == 201, created
    return created


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"sql": "SELECT * FROM orders WHERE country = :country AND x = :undeclared"}, "parameters", "undeclared"),
    ({"parameters": [*TOP["parameters"], {"name": "unused", "type": "integer"}]}, "parameters", "not used"),
    ({"sql": "DELETE FROM orders WHERE country = :country AND :since IS NOT NULL AND :n > 0"}, "sql", "only reads"),
    ({"sql": "SELECT 1; SELECT 2"}, "sql", "one SELECT"),
    ({"sql": "SELECT * FROM secret_stuff WHERE a = :country AND :since = :since AND :n = 1"}, "sql", "registered"),
    ({"sql": "SELECT * FROM orders o JOIN events e ON o.customer_id = e.user_id "
             "WHERE :country = '' AND :since = :since AND :n = 1"}, "sql", "not both"),
    ({"parameters": [{"name": "country", "type": "colour"}]}, "parameters", "type"),
    # Text that would break out of the comment line of an inserted cell (finding 11 of the attack run).
    ({"title": "Top\nSELECT * FROM glob('/home/*')"}, "title", "line break"),
    ({"title": "Top\rSELECT 1"}, "title", "line break"),
    ({"title": "Top\u2028SELECT 1"}, "title", "line break"),
    ({"title": "Top \u202eevil"}, "title", "U+202E"),
    ({"parameters": [{"name": "country", "type": "integer", "default": "CZ"}, *TOP["parameters"][1:]]},
     None, "whole number"),
])
async def test_bad_recipes_are_refused_with_the_field(api, change: dict[str, Any], field: str | None,
                                                      words: str) -> None:
    status, body, _ = await api("POST", "admin/recipes", {**TOP, **change}, token=ALICE)
    assert status == 400, body
    if field is None:  # a default of the wrong type: named as the parameter it belongs to
        assert (body["error"], body["details"]["parameter"]) == ("recipe_parameter", "country")
    else:
        assert (body["error"], body["details"]["field"]) == ("validation_error", field)
    assert words in body["message"]


async def test_recipes_are_listed_by_grant_and_soft_deleted(api) -> None:
    created = await create(api)
    assert_matches_openapi("/admin/recipes", "POST", 201, created)
    assert (created["tables"], created["mode"]) == (["orders", "customers"], "local")
    assert [p["required"] for p in created["parameters"]] == [False, False, False]

    status, body, _ = await api("GET", "recipes", token=BOB)
    assert (status, body["recipes"]) == (200, [])
    status, body, _ = await api("GET", "recipes/top-customers", token=BOB)
    assert status == 404
    status, body, _ = await api("POST", "admin/grants", {"group": "Everyone", "resource_type": "recipe",
                                                         "resource_id": "top-customers"}, token=ALICE)
    assert status == 201
    status, body, _ = await api("GET", "recipes", token=BOB)
    assert_matches_openapi("/recipes", "GET", status, body)
    [recipe] = body["recipes"]
    assert (recipe["slug"], recipe["runnable"], recipe["in_stack"]) == ("top-customers", False, False)
    status, stack, _ = await api("PUT", "stack/recipes/top-customers", token=BOB)
    assert [r["slug"] for r in stack["recipes"]] == ["top-customers"]

    await api("DELETE", "admin/recipes/top-customers", token=ALICE)
    status, body, _ = await api("GET", "recipes", token=BOB)
    assert body["recipes"] == []
    status, restored, _ = await api("POST", "admin/recipes/top-customers/restore", token=ALICE)
    assert (status, restored["deleted_at"]) == (200, None)
    status, again, _ = await api("POST", "admin/recipes/top-customers/restore", token=ALICE)
    assert (status, again["error"]) == (409, "conflict")  # it exists and is not deleted
    status, body, _ = await api("GET", "recipes", token=BOB)
    assert [r["slug"] for r in body["recipes"]] == ["top-customers"]


async def test_render_makes_every_value_a_typed_literal(api, demo_lake_path) -> None:
    await create(api)
    status, out, _ = await api("POST", "recipes/top-customers/render", {"params": {"country": "SK", "n": 3}},
                               token=ALICE)
    assert status == 200
    assert_matches_openapi("/recipes/{slug}/render", "POST", status, out)
    assert out["params"] == {"country": "SK", "since": "2024-01-01", "n": 3}
    tree = sqlglot.parse_one(out["sql"], read="duckdb")
    literals = {lit.this for lit in tree.find_all(sqlglot.exp.Literal)}
    assert {"SK", "2024-01-01", "3"} <= literals
    assert not list(tree.find_all(sqlglot.exp.Placeholder))

    # An injection attempt stays a string literal: the query still has one WHERE with the same shape.
    evil = "x' OR 1=1 --"
    status, out, _ = await api("POST", "recipes/top-customers/render", {"params": {"country": evil}}, token=ALICE)
    tree = sqlglot.parse_one(out["sql"], read="duckdb")
    assert evil in {lit.this for lit in tree.find_all(sqlglot.exp.Literal)}
    assert not list(tree.find_all(sqlglot.exp.Or))
    con = duckdb.connect()
    con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{demo_lake_path}/orders.parquet')")
    con.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet('{demo_lake_path}/customers.parquet')")
    assert con.execute(out["sql"]).fetchall() == []  # no customer lives in "x' OR 1=1 --"


@pytest.mark.parametrize(("params", "words"), [
    ({"n": "10; DROP TABLE orders"}, "whole number"),
    ({"n": True}, "whole number"),
    ({"since": "last tuesday"}, "date"),
    ({"colour": "red"}, "no parameter"),
])
async def test_bad_values_are_refused_naming_the_parameter(api, params: dict[str, Any], words: str) -> None:
    await create(api)
    status, body, _ = await api("POST", "recipes/top-customers/render", {"params": params}, token=ALICE)
    assert (status, body["error"]) == (400, "recipe_parameter")
    assert words in body["message"]


async def test_a_parameter_without_default_is_required(api) -> None:
    await create(api, {**TOP, "slug": "by-country", "parameters": [
        {"name": "country", "type": "string", "choices": ["CZ", "SK"]}, *TOP["parameters"][1:]]})
    status, body, _ = await api("POST", "recipes/by-country/render", {"params": {}}, token=ALICE)
    assert (status, body["details"]["parameter"]) == (400, "country")
    status, body, _ = await api("POST", "recipes/by-country/render", {"params": {"country": "DE"}}, token=ALICE)
    assert (status, body["error"]) == (400, "recipe_parameter")
    assert "one of" in body["message"]
