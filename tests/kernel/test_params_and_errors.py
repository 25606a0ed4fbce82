"""Parameters bind as literals in the query's own text (nothing else of it re-rendered), and
DuckDB's errors read as one line with the right position and DuckDB's own suggestion."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import duckdb
import numpy as np
import pytest

import agnes_jupyter as agnes
from agnes_jupyter._params import bind_params, param_names
from agnes_jupyter.errors import from_duckdb


def test_only_real_placeholders_are_found() -> None:
    sql = "SELECT ':x' AS s, a::INT, total: amount, l[1:n], x||:v -- :y\nFROM t WHERE c = {w} AND d = :z"
    assert [name for _, _, name in param_names(sql, "duckdb")] == ["v", "w", "z"]


@pytest.mark.parametrize(("value", "sql"), [
    ("smb' OR '1'='1", "'smb'' OR ''1''=''1'"),
    (3, "3"),
    (np.int64(7), "7"),
    (np.bool_(True), "TRUE"),
    (2.5, "2.5"),
    (math.inf, "CAST('Infinity' AS DOUBLE)"),
    (decimal.Decimal("1.10"), "1.10"),
    (None, "NULL"),
    (dt.date(2026, 1, 2), "CAST('2026-01-02' AS DATE)"),
    (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))),
     "CAST('2026-01-02 03:04:05+05:00' AS TIMESTAMPTZ)"),
])
def test_values_become_typed_literals(value: object, sql: str) -> None:
    assert bind_params("SELECT * FROM t WHERE a = :v", {"v": value}, "duckdb") == f"SELECT * FROM t WHERE a = {sql}"


def test_lists_are_in_lists_or_arrays_and_the_rest_of_the_query_is_untouched() -> None:
    query = "SELECT array_length(tags, 1) AS n /* keep */ FROM t WHERE c IN :c AND d IN (:d) AND f = ANY(:e)"
    out = bind_params(query, {"c": ["CZ", "SK"], "d": [1], "e": [1, 2]}, "postgres")
    assert out == ("SELECT array_length(tags, 1) AS n /* keep */ FROM t WHERE c IN ('CZ', 'SK') AND d IN (1) "
                   "AND f = ANY(ARRAY[1, 2])")
    rows = duckdb.connect().execute(bind_params("SELECT 2 IN :v AS hit", {"v": (1, 2)}, "duckdb")).fetchall()
    assert rows == [(True,)]


@pytest.mark.parametrize(("query", "values", "message"), [
    ("SELECT * FROM {tbl}", {"tbl": "orders"}, "not in the place of a value"),
    ("SELECT a FROM t ORDER BY :n", {"n": 1}, "not in the place of a value"),
    ("SELECT a FROM t GROUP BY :n", {"n": 1}, "not in the place of a value"),
    ("SELECT :f(x) FROM t", {"f": 1}, "not in the place of a value"),
    ("SELECT a FROM t WHERE a IN :v", {"v": []}, "is empty"),
    ("SELECT :nowhere", {}, "no value for the parameter :nowhere"),
    ("SELECT :v", {"v": "a\x00b"}, "NUL"),
    ("SELECT :v", {"v": object()}, "cannot be a SQL literal"),
])
def test_what_cannot_be_a_value_is_refused(query: str, values: dict[str, object], message: str) -> None:
    with pytest.raises(agnes.ValidationError, match=message):
        bind_params(query, values, "duckdb")


def _error(sql: str) -> agnes.QueryError:
    con = duckdb.connect()
    con.execute("CREATE TABLE orders (amount INT, id INT)")
    with pytest.raises(duckdb.Error) as info:
        con.execute("DESCRIBE " + sql)  # what ibis runs to learn a query's columns
    return from_duckdb(info.value, sql)


def test_duckdb_errors_point_into_the_users_own_sql_with_duckdbs_suggestion() -> None:
    assert _error("SELECT * FROM ordrs").message.endswith('(line 1, column 15) — Did you mean "orders"?')
    missing = _error("SELECT 1,\n  amout FROM orders")
    assert "(line 2, column 3)" in missing.message
    assert 'Candidate bindings: "amount"' in missing.message
    long = "SELECT " + ", ".join(f"id AS c{i}" for i in range(40)) + ", amout FROM orders"
    assert f"(line 1, column {long.index('amout') + 1})" in _error(long).message  # DuckDB shortens the line
    assert "DESCRIBE" not in str(_error("SELECT amout FROM orders"))


def test_errors_of_generated_sql_name_no_position() -> None:
    con = duckdb.connect()
    with pytest.raises(duckdb.Error) as info:
        con.execute("SELECT CAST('x' AS INT)")
    error = from_duckdb(info.value, generated=True)
    assert "line" not in error.message
    assert "expression" in (error.hint or "")


def test_magic_help_is_generated_from_the_parsers() -> None:
    import argparse

    from agnes_jupyter._magics import _cell_parser, _parser, help_text

    text = help_text()
    parser = _parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"snapshots", "packages", "package", "stack", "recipes", "catalog", "sync"} <= set(subcommands)
    for name in subcommands:
        assert f"%agnes {name}" in text
    for action in _cell_parser()._actions:
        for flag in action.option_strings:
            assert flag in text
