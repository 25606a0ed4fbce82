"""The pieces the validator is built on: name resolution as each engine resolves names
(agnes_core.gate.sqlnames) and the bounds on what a query may cost and build (agnes_core.gate.sqlbounds)."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from agnes_core.gate.sqlbounds import (
    DEFAULT_LIMITS,
    SqlLimits,
    TooComplex,
    apply_guards,
    balance_chains,
    check_shape,
    check_text,
    tokenize,
    value_bounds,
)
from agnes_core.gate.sqlnames import classify, rename_ctes, unverified_relations


def relations(sql: str, dialect: str) -> list[str]:
    return [t.sql(dialect=dialect) for t in classify(sqlglot.parse_one(sql, read=dialect), dialect).relations]


@pytest.mark.parametrize(("sql", "dialect", "expected"), [
    # PostgreSQL: a quoted name keeps its case, an unquoted one folds to lower case.
    ('WITH "CUSTOMERS" AS (SELECT 1 AS x FROM t) SELECT * FROM CUSTOMERS', "postgres", ["CUSTOMERS", "t"]),
    ('WITH "customers" AS (SELECT 1 AS x FROM t) SELECT * FROM CUSTOMERS', "postgres", ["t"]),
    ('WITH Customers AS (SELECT 1 AS x FROM t) SELECT * FROM "customers"', "postgres", ["t"]),
    ('WITH Customers AS (SELECT 1 AS x FROM t) SELECT * FROM "Customers"', "postgres", ['"Customers"', "t"]),
    # DuckDB ignores case, quoted or not.
    ('WITH "CUSTOMERS" AS (SELECT 1 AS x FROM t) SELECT * FROM customers', "duckdb", ["t"]),
    # Inside a CTE only the CTEs before it are visible, unless RECURSIVE.
    ("WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x FROM t) SELECT * FROM a", "postgres", ["b", "t"]),
    ("WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1 AS x FROM t) SELECT * FROM a", "postgres", ["t"]),
    ("WITH a AS (SELECT * FROM a) SELECT * FROM a", "postgres", ["a"]),
    ("WITH RECURSIVE a AS (SELECT 1 AS n FROM t UNION ALL SELECT n + 1 FROM a) SELECT * FROM a", "postgres", ["t"]),
    # The nearest WITH wins; an inner CTE is not visible outside its query.
    ("WITH x AS (SELECT 1 AS a FROM t) SELECT * FROM (WITH x AS (SELECT 2 AS a FROM u) SELECT * FROM x) q",
     "postgres", ["u", "t"]),
    ("SELECT * FROM (WITH x AS (SELECT 1 AS a FROM t) SELECT * FROM x) q, x", "postgres", ["x", "t"]),
    # Qualified names are never CTEs.
    ("WITH x AS (SELECT 1 AS a FROM t) SELECT * FROM public.x", "postgres", ["public.x", "t"]),
])
def test_names_resolve_as_the_engine_resolves_them(sql: str, dialect: str, expected: list[str]) -> None:
    assert sorted(relations(sql, dialect)) == sorted(expected)


def test_renamed_ctes_keep_their_old_names_as_aliases() -> None:
    tree = sqlglot.parse_one("WITH Monthly AS (SELECT 1 AS total FROM t) SELECT monthly.total FROM monthly",
                             read="postgres")
    rename_ctes(tree, "postgres")
    assert tree.sql("postgres") == ('WITH "agnes_cte_0" AS (SELECT 1 AS total FROM t) '
                                    'SELECT monthly.total FROM "agnes_cte_0" AS monthly')


def test_renamed_ctes_return_the_same_rows_in_duckdb() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM range(10) r(i)")
    sql = ("WITH Big AS (SELECT i FROM t WHERE i > 4), small AS (SELECT i FROM t WHERE i <= 4) "
           "SELECT big.i, (SELECT count(*) FROM small) AS n FROM BIG ORDER BY 1")
    tree = sqlglot.parse_one(sql, read="duckdb")
    rename_ctes(tree, "duckdb")
    assert con.execute(tree.sql("duckdb")).fetchall() == con.execute(sql).fetchall()


@pytest.mark.parametrize(("sql", "problem"), [
    ('SELECT * FROM "agnes_cte_0"', "not one of the query's CTEs"),
    ('WITH x AS (SELECT 1 AS a FROM "public"."orders") SELECT * FROM x', "not one of the query's CTEs"),
    ('SELECT * FROM "public"."salaries"', "not granted"),
    ('SELECT * FROM "db"."public"."orders"', "another catalog"),
    ("SELECT * FROM read_csv('x')", "table function"),
    ("SELECT * FROM salaries", "not one of the query's CTEs"),
])
def test_verification_refuses_anything_but_granted_relations_and_generated_ctes(sql: str, problem: str) -> None:
    tree = sqlglot.parse_one(sql, read="postgres")
    problems = unverified_relations(tree, "postgres", {("public", "orders")})
    assert problems
    assert problem in problems[0]


def test_verification_accepts_a_rewritten_query() -> None:
    tree = sqlglot.parse_one('WITH "agnes_cte_0" AS (SELECT id FROM "public"."orders") '
                             'SELECT * FROM "agnes_cte_0" AS x', read="postgres")
    assert unverified_relations(tree, "postgres", {("public", "orders")}) == []


# -- bounds -------------------------------------------------------------------------------------


def test_text_is_refused_above_the_size_limit_and_when_not_valid_unicode() -> None:
    limits = SqlLimits(max_bytes=100)
    check_text("SELECT 1", limits)
    with pytest.raises(TooComplex) as err:
        check_text("x" * 101, limits)
    assert err.value.kind == "query_too_long"
    with pytest.raises(TooComplex, match="surrogate at character 7"):
        check_text("SELECT \ud800", limits)
    with pytest.raises(TooComplex, match="NUL"):
        check_text("SELECT \x00", limits)


def test_nesting_is_measured_on_tokens_before_parsing() -> None:
    tokenize("SELECT " + "(" * 40 + "1" + ")" * 40, "duckdb", DEFAULT_LIMITS)
    with pytest.raises(TooComplex, match="more than 40 levels"):
        tokenize("SELECT " + "(" * 41 + "1" + ")" * 41, "duckdb", DEFAULT_LIMITS)
    with pytest.raises(TooComplex, match="tokens"):
        tokenize("SELECT " + ",".join(["1"] * 60_000), "duckdb", DEFAULT_LIMITS)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.sampled_from(["a > 1", "b IS NULL", "c = 'x'", "NOT d", "e IN (1, 2)"]), min_size=1,
                max_size=300), st.sampled_from(["AND", "OR"]))
def test_balanced_chains_mean_the_same_and_are_shallow(terms: list[str], op: str) -> None:
    sql = f"SELECT * FROM t WHERE {f' {op} '.join(terms)}"
    tree = sqlglot.parse_one(sql, read="duckdb")
    balanced = balance_chains(tree.copy())
    check_shape(balanced, SqlLimits(max_depth=40))
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (0, NULL, 'x', false, 1), (2, 1, 'y', true, 3), "
                "(5, NULL, NULL, NULL, 2)) v(a, b, c, d, e)")
    assert sorted(con.execute(balanced.sql("duckdb")).fetchall(), key=repr) == \
        sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.parametrize(("expression", "refused"), [
    ("repeat('x', 16384)", False),
    ("repeat('x', 16385)", True),
    ("repeat(c, 64)", False),
    ("repeat(c, 65)", True),
    ("repeat(repeat('ab', 256), 256)", True),
    ("lpad(c, 4096, 'x')", False),
    ("lpad(c, 4097, 'x')", True),
    ("repeat('*', n) || repeat('-', m)", False),
    ("replace(c, 'a', 'bb')", False),
    ("replace(c, 'a', d)", True),
    ("replace('template {n}', '{n}', d)", False),
    ("CASE WHEN a THEN c WHEN b THEN d ELSE e END", False),
    ("coalesce(" + ", ".join(["c"] * 100) + ")", False),
    ("concat(" + ", ".join(["c"] * 65) + ")", True),
    ("string_agg(c, ',') || string_agg(d, ',')", False),
])
def test_values_a_query_can_build_are_bounded(expression: str, refused: bool) -> None:
    tree = sqlglot.parse_one(f"SELECT {expression} FROM t", read="duckdb")
    if refused:
        with pytest.raises(TooComplex) as err:
            value_bounds(tree, DEFAULT_LIMITS)
        assert err.value.kind == "value_too_large"
    else:
        value_bounds(tree, DEFAULT_LIMITS)


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_counts_taken_from_data_get_a_guard_in_the_sql(dialect: str) -> None:
    tree = sqlglot.parse_one("SELECT repeat('*', n) AS bar, lpad(s, w) FROM t", read=dialect)
    guards = value_bounds(tree, DEFAULT_LIMITS)
    assert len(guards) == 2
    apply_guards(guards, dialect)
    sql = tree.sql(dialect)
    assert sql.count("agnes: ") == 2
    assert "would build a value" in sql


def test_a_guard_stops_duckdb_before_the_value_is_built() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (3), (2000000000)) v(n)")
    tree = sqlglot.parse_one("SELECT repeat('*', n) AS bar FROM t", read="duckdb")
    apply_guards(value_bounds(tree, DEFAULT_LIMITS), "duckdb")
    with pytest.raises(duckdb.Error, match="agnes: repeat\\(\\) would build a value larger than"):
        con.execute(tree.sql("duckdb")).fetchall()
    assert con.execute(tree.sql("duckdb").replace("FROM t", "FROM t WHERE n < 10")).fetchall() == [("***",)]


def test_guards_are_only_added_to_counts_that_are_not_literals() -> None:
    tree = sqlglot.parse_one("SELECT repeat('*', 3), lpad(s, 4) FROM t", read="duckdb")
    assert value_bounds(tree, DEFAULT_LIMITS) == []
    assert isinstance(tree.expressions[0], exp.Repeat)
