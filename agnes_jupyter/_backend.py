"""The kernel's ibis backend: the workspace DuckDB, plus remote tables that run through the gate.

Every table ``agnes.table()`` returns is bound to one :class:`AgnesBackend` — local tables and
snapshots as DuckDB views, remote tables as :class:`ibis.expr.operations.DatabaseTable` nodes
marked with the namespace ``__agnes_remote__.<source>`` — so ``execute()``, ``to_pandas()``,
``to_pyarrow()``, ``to_pyarrow_batches()`` and ``count().execute()`` work on any of them, and on
expressions that join them.

How an expression runs:

* **only remote tables of one source**: the whole expression is compiled to the source's dialect
  and sent to ``POST scans`` (validator, estimate, gate, budget); the Arrow stream is the result.
* **remote and local tables** ("mixed"): each maximal subtree over one remote source is replaced
  by a placeholder; the columns the rest of the query reads from it and the filters that can be
  applied before it (``WHERE``/``ON`` conjuncts over its columns only, never on the null-supplying
  side of an outer join) are pushed into its remote query; every remote query is estimated first
  (one confirmation for the sum), scanned into an Arrow table registered in DuckDB for the length
  of the call, and DuckDB runs the rest. The pushed filters stay in the local query too, so
  pushing only ever narrows what is read, never what is answered.
* **only local tables**: DuckDB, as ibis would.

``ibis.to_sql(expr)`` shows the source's SQL for a remote expression. Results are not stored:
``agnes.snapshot(expr, name)`` keeps one.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
from ibis.backends.duckdb import Backend as DuckDBBackend
from ibis.expr.operations.relations import Namespace

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa
    import sqlglot.expressions as sge

REMOTE = "__agnes_remote__"
DUCKDB_COMPILER = DuckDBBackend.compiler

_confirmed: contextvars.ContextVar[bool] = contextvars.ContextVar("agnes_confirmed", default=False)


@contextlib.contextmanager
def confirm() -> Iterator[None]:
    """``with agnes.confirm():`` — scans in the block run above the confirmation threshold."""
    token = _confirmed.set(True)
    try:
        yield
    finally:
        _confirmed.reset(token)


@contextlib.contextmanager
def duckdb_errors() -> Iterator[None]:
    """DuckDB's errors as :class:`QueryError` (one line and a hint), not a traceback through ibis."""
    import duckdb

    from .errors import from_duckdb

    try:
        yield
    except duckdb.Error as exc:
        raise from_duckdb(exc) from None


def is_remote(op: ops.Node) -> bool:
    return isinstance(op, (ops.DatabaseTable, ops.UnboundTable)) and op.namespace.catalog == REMOTE


def remote_source(op: ops.Node) -> str:
    return str(op.namespace.database)


def _unmark(op: ops.Node) -> ops.Node:
    """The expression with remote tables as plain unbound tables named by their id."""

    mapping = {leaf: ops.UnboundTable(name=leaf.name, schema=leaf.schema)
               for leaf in _leaves(op) if is_remote(leaf)}
    return op.replace(mapping) if mapping else op


def _leaves(op: ops.Node) -> list[ops.Node]:
    return list(op.find((ops.PhysicalTable, ops.SQLQueryResult)))


class _Compiler:
    """DuckDB's compiler, except that an expression over remote tables of one source compiles
    to that source's dialect (so ``ibis.to_sql(expr)`` and ``expr.compile()`` show what the
    source would run). ``dialect`` answers for the latest compilation once, then DuckDB again."""

    def __init__(self, backend: AgnesBackend, local: Any) -> None:
        self._backend = backend
        self._local = local
        self._next = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._local, name)

    @property
    def dialect(self) -> Any:
        once = getattr(self._next, "dialect", None)
        self._next.dialect = None
        return once if once is not None else self._local.dialect

    def to_sqlglot(self, expr: ir.Expr, **kwargs: Any) -> Any:
        leaves = _leaves(expr.op())
        remote = [leaf for leaf in leaves if is_remote(leaf)]
        if remote and len(remote) == len(leaves) and len({remote_source(r) for r in remote}) == 1:
            compiler = self._backend.source_compiler(remote_source(remote[0]))
            self._next.dialect = compiler.dialect
            return compiler.to_sqlglot(_unmark(expr.op()).to_expr(), **kwargs)
        self._next.dialect = None
        return self._local.to_sqlglot(expr, **kwargs)


@dataclass
class _Part:
    """A maximal subtree over one remote source, and what the rest of the query needs of it."""

    op: ops.Relation
    source: str
    placeholder: ops.DatabaseTable
    columns: list[str]
    sql: str = ""


class AgnesBackend(DuckDBBackend):
    """The workspace DuckDB, able to run expressions over remote tables through the gate."""

    _counter = itertools.count()

    def do_connect(self, *args: Any, **kwargs: Any) -> None:
        super().do_connect(*args, **kwargs)
        self.compiler = _Compiler(self, DUCKDB_COMPILER)
        self._sources: dict[str, str] = {}  # source -> SQL flavor

    # -- remote tables --------------------------------------------------------------------------

    def remote_table(self, table_id: str, schema: Any, source: str, flavor: str) -> ir.Table:
        self._sources[source] = flavor
        op = ops.DatabaseTable(name=table_id, schema=ibis.schema(schema), source=self,
                               namespace=Namespace(catalog=REMOTE, database=source))
        return op.to_expr()

    def source_compiler(self, source: str) -> Any:
        import ibis.backends.sql.compilers as sc

        flavor = self._sources.get(source, "duckdb")
        return getattr(sc, flavor if flavor in ("postgres", "bigquery", "duckdb") else "duckdb").compiler

    def source_sql(self, expr: ir.Expr, limit: int | str | None = None) -> str:
        """The SQL an expression over remote tables of one source sends to that source."""
        table = expr.as_table()
        leaves = [leaf for leaf in _leaves(table.op()) if is_remote(leaf)]
        compiler = self.source_compiler(remote_source(leaves[0]))
        limit = None if limit == "default" else limit
        ast = compiler.to_sqlglot(_unmark(table.op()).to_expr(), limit=limit)
        return str(ast.sql(dialect=compiler.dialect))

    # -- execution ------------------------------------------------------------------------------

    def _plan(self, expr: ir.Expr) -> tuple[str, Any]:
        """``("local", None)``, ``("remote", source)`` or ``("mixed", None)``."""
        leaves = _leaves(expr.op())
        remote = {remote_source(leaf) for leaf in leaves if is_remote(leaf)}
        if not remote:
            return "local", None
        if len(remote) == 1 and all(is_remote(leaf) for leaf in leaves):
            return "remote", remote.pop()
        return "mixed", None

    def _scan_whole(self, expr: ir.Expr, limit: Any, confirm: bool | None) -> pa.Table:
        from ._scans import gated_scans

        return gated_scans([self.source_sql(expr, limit)], confirm=confirm)[0]

    @contextlib.contextmanager
    def _localised(self, expr: ir.Expr, confirm: bool | None) -> Iterator[ir.Expr]:
        """The expression with every remote part scanned (through the gate) into a DuckDB table."""
        from ._scans import gated_scans

        local, parts = self._split(expr)
        results = gated_scans([p.sql for p in parts], confirm=confirm)
        try:
            for part, arrow in zip(parts, results, strict=True):
                self.con.register(part.placeholder.name, _widen(arrow, part.placeholder.schema))
            yield local
        finally:
            for part in parts:
                with contextlib.suppress(Exception):
                    self.con.unregister(part.placeholder.name)

    def _split(self, expr: ir.Expr) -> tuple[ir.Expr, list[_Part]]:
        """The local expression over placeholders, and the remote parts with their queries."""
        parts = self._parts(expr)
        # each part becomes SELECT * over its placeholder: a relation (not a bare table) wherever
        # it sits, so scalar and IN subqueries over it compile as they did
        local = expr.op().replace({p.op: p.placeholder.to_expr().select(*p.placeholder.schema.names).op()
                                   for p in parts}).to_expr()
        pushed = _pushdown(self, local, parts)
        for part in parts:
            part.sql = _remote_query(self, part, pushed.get(part.placeholder.name, []))
        return local, parts

    def remote_queries(self, expr: ir.Expr) -> list[str]:
        """The queries running ``expr`` would send to remote sources (one per remote part)."""
        kind, _ = self._plan(expr)
        if kind == "local":
            return []
        if kind == "remote":
            return [self.source_sql(expr)]
        return [p.sql for p in self._split(expr)[1]]

    def _parts(self, expr: ir.Expr) -> list[_Part]:
        """Maximal relation subtrees whose tables are all remote tables of one source."""
        from ibis.common.graph import Graph

        graph = Graph.from_bfs(expr.op())
        order = graph.toposort()
        order = order[0] if isinstance(order, tuple) else order  # (sorted, dependents) in ibis 12
        kinds: dict[ops.Node, frozenset[str]] = {}
        for node in order:
            if is_remote(node):
                kinds[node] = frozenset({remote_source(node)})
            elif isinstance(node, (ops.PhysicalTable, ops.SQLQueryResult)):
                kinds[node] = frozenset({""})  # local
            else:
                kinds[node] = frozenset().union(*(kinds[c] for c in graph[node]))
        parents: dict[ops.Node, list[ops.Node]] = {}
        for node, children in graph.items():
            for child in children:
                parents.setdefault(child, []).append(node)

        def single_remote(node: ops.Node) -> bool:
            kind = kinds[node]
            return len(kind) == 1 and "" not in kind

        chosen: list[_Part] = []
        for node in order:
            if not isinstance(node, ops.Relation) or isinstance(node, (ops.Reference,)):
                continue
            if not single_remote(node):
                continue
            # maximal: no relation above it (other than the wrappers a join puts around it) is
            # over the same single source.
            if any(self._covers(parent, kinds, parents) for parent in parents.get(node, [])):
                continue
            name = f"_agnes_remote_{next(self._counter)}"
            placeholder = ops.DatabaseTable(name=name, schema=node.schema, source=self, namespace=Namespace())
            chosen.append(_Part(node, next(iter(kinds[node])), placeholder, list(node.schema.names)))
        return chosen

    @staticmethod
    def _covers(parent: ops.Node, kinds: dict[ops.Node, frozenset[str]],
                parents: dict[ops.Node, list[ops.Node]]) -> bool:
        """Whether a relation above ``parent`` (through wrappers and values) is single-remote too."""
        seen: set[ops.Node] = set()
        stack = [parent]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            kind = kinds[node]
            if len(kind) != 1 or "" in kind:
                continue
            if isinstance(node, ops.Relation) and not isinstance(node, (ops.Reference,)):
                return True
            stack.extend(parents.get(node, []))
        return False

    def _resolve(self, expr: ir.Expr, kwargs: dict[str, Any]) -> bool | None:
        confirm = kwargs.pop("confirm", None)
        return bool(confirm) if confirm is not None else None

    def execute(self, expr: ir.Expr, /, *, params: Mapping[Any, Any] | None = None,
                limit: int | str | None = None, **kwargs: Any) -> Any:
        confirm = self._resolve(expr, kwargs)
        kind, _ = self._plan(expr)
        if kind == "local":
            with duckdb_errors():
                return super().execute(expr, params=params, limit=limit, **kwargs)
        if kind == "remote":
            return _pandas_result(self, expr, self._scan_whole(expr, limit, confirm))
        with self._localised(expr, confirm) as local, duckdb_errors():
            return super().execute(local, params=params, limit=limit, **kwargs)

    def to_pyarrow(self, expr: ir.Expr, /, *, params: Mapping[Any, Any] | None = None,
                   limit: int | str | None = None, **kwargs: Any) -> pa.Table:
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        confirm = self._resolve(expr, kwargs)
        kind, _ = self._plan(expr)
        if kind == "local":
            with duckdb_errors():
                return super().to_pyarrow(expr, params=params, limit=limit, **kwargs)
        if kind == "remote":
            table = self._scan_whole(expr, limit, confirm)
            table = table.rename_columns(list(expr.as_table().schema().names))
            return expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)
        with self._localised(expr, confirm) as local, duckdb_errors():
            return super().to_pyarrow(local, params=params, limit=limit, **kwargs)

    def to_pyarrow_batches(self, expr: ir.Expr, /, *, params: Mapping[Any, Any] | None = None,
                           limit: int | str | None = None, chunk_size: int = 1_000_000,
                           **kwargs: Any) -> pa.ipc.RecordBatchReader:
        import pyarrow as pa

        confirm = self._resolve(expr, kwargs)
        kind, _ = self._plan(expr)
        if kind == "local":
            with duckdb_errors():
                return super().to_pyarrow_batches(expr, params=params, limit=limit, chunk_size=chunk_size)
        if kind == "remote":
            table = self._scan_whole(expr, limit, confirm)
            return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=chunk_size))
        with self._localised(expr, confirm) as local, duckdb_errors():
            table = super().to_pyarrow(local, params=params, limit=limit)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=chunk_size))

    def _to_duckdb_relation(self, expr: ir.Expr, *, params: Mapping[Any, Any] | None = None,
                            limit: int | str | None = None, **kwargs: Any) -> Any:
        """to_polars, to_parquet, to_csv ...: remote parts are scanned into DuckDB first."""
        confirm = self._resolve(expr, kwargs)
        kind, _ = self._plan(expr)
        if kind == "local":
            return super()._to_duckdb_relation(expr, params=params, limit=limit, **kwargs)
        arrow = self.to_pyarrow(expr.as_table(), params=params, limit=limit, confirm=confirm)
        return self.con.from_arrow(arrow)


def _widen(arrow: pa.Table, schema: Any) -> pa.Table:
    """The scanned columns, plus the columns the query never reads as typed nulls (the local
    SQL still names them in the subqueries ibis writes; nothing reads their values)."""
    import pyarrow as pa

    target = schema.to_pyarrow()
    columns = []
    for field in target:
        if field.name in arrow.column_names:
            columns.append(arrow.column(field.name))
        else:
            columns.append(pa.nulls(arrow.num_rows, field.type))
    return pa.Table.from_arrays(columns, names=target.names)


def _pandas_result(backend: AgnesBackend, expr: ir.Expr, table: pa.Table) -> Any:
    """A scan's Arrow table shaped the way ibis shapes ``execute()`` (frame, series or scalar)."""
    import pandas as pd
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    schema = expr.as_table().schema()
    table = table.rename_columns(list(schema.names))
    df = pd.DataFrame({
        name: (col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
               else col.to_pandas())
        for name, col in zip(table.column_names, table.columns, strict=True)
    })
    df = DuckDBPandasData.convert_table(df, schema)
    return expr.__pandas_result__(df)


# -- pushdown ----------------------------------------------------------------------------------------


def _conjuncts(node: Any) -> list[sge.Expression]:
    import sqlglot.expressions as sge

    if node is None:
        return []
    if isinstance(node, sge.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    if isinstance(node, sge.Paren):
        return _conjuncts(node.this)
    if isinstance(node, sge.Boolean) and node.this is True:
        return []
    return [node]


def _pushable(predicate: sge.Expression, alias: str) -> bool:
    """A filter over this table's columns only, made of plain comparisons and literals (nothing
    that could read another table, aggregate, or differ between two runs)."""
    import sqlglot.expressions as sge

    allowed = (sge.Column, sge.Identifier, sge.Literal, sge.Boolean, sge.Null, sge.EQ, sge.NEQ, sge.GT, sge.GTE,
               sge.LT, sge.LTE, sge.And, sge.Or, sge.Not, sge.Paren, sge.In, sge.Between, sge.Is, sge.Like,
               sge.ILike, sge.Cast, sge.DataType, sge.DataTypeParam, sge.Neg, sge.Add, sge.Sub, sge.Mul,
               sge.Div, sge.DateFromParts, sge.Tuple, sge.Var)
    columns = list(predicate.find_all(sge.Column))
    if not columns or any(c.table != alias for c in columns):
        return False
    return all(isinstance(node, allowed) for node in predicate.walk())


def _pushdown(backend: AgnesBackend, local: ir.Expr, parts: list[_Part]) -> dict[str, list[sge.Expression]]:
    """Narrow each part to the columns the local query reads of it and return, per placeholder,
    the filters that hold before it (the sqlglot optimizer flattens ibis's nesting first)."""
    import sqlglot.expressions as sge
    from sqlglot.optimizer import optimize
    from sqlglot.optimizer.eliminate_subqueries import eliminate_subqueries
    from sqlglot.optimizer.merge_subqueries import merge_subqueries
    from sqlglot.optimizer.normalize import normalize
    from sqlglot.optimizer.optimize_joins import optimize_joins
    from sqlglot.optimizer.pushdown_predicates import pushdown_predicates
    from sqlglot.optimizer.pushdown_projections import pushdown_projections
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    mapper = DUCKDB_COMPILER.type_mapper
    schema: dict[str, object] = {}
    for leaf in _leaves(local.op()):
        if isinstance(leaf, ops.PhysicalTable):
            schema[leaf.name] = {name: mapper.to_string(dtype) for name, dtype in leaf.schema.items()}
    by_name = {p.placeholder.name: p for p in parts}
    try:
        ast = DUCKDB_COMPILER.to_sqlglot(local.as_table())
        flat = optimize(ast, schema=schema, dialect="duckdb",
                        rules=(qualify, pushdown_projections, normalize, pushdown_predicates, optimize_joins,
                               eliminate_subqueries, merge_subqueries))
    except Exception:  # noqa: BLE001 - the optimizer could not follow it: read every column, push no filter
        return {}
    used: dict[str, set[str] | None] = {name: set() for name in by_name}
    filters: dict[str, list[sge.Expression]] = {}
    occurrences: dict[str, int] = {name: 0 for name in by_name}
    for scope in traverse_scope(flat):
        for alias, source in scope.selected_sources.items():
            table = source[1] if isinstance(source, tuple) else source
            if not isinstance(table, sge.Table) or table.name not in by_name:
                continue
            name = table.name
            occurrences[name] += 1
            for other in traverse_scope(flat):
                for column in other.columns:
                    cols = used[name]
                    if not column.table and column.name == alias:
                        used[name] = None  # the row as a value: every column
                    elif column.table == alias and cols is not None:
                        cols.add(column.name)
            select = scope.expression
            if isinstance(select, sge.Select):
                where = select.args.get("where")
                filters[name] = [c for c in _conjuncts(where.this if where is not None else None)
                                 if _pushable(c, alias)] if _preserved(select, alias) else []
                filters[name] += _on_filters(select, alias)
    for name, part in by_name.items():
        cols = used[name]
        if cols is not None:
            part.columns = [c for c in part.columns if c in cols] or part.columns[:1]
    return {name: fs for name, fs in filters.items() if occurrences[name] == 1}


def _preserved(select: sge.Select, alias: str) -> bool:
    """Whether ``alias`` keeps all its rows through the joins of this SELECT (so a WHERE filter
    over it may be applied before the join)."""
    for join in select.args.get("joins") or []:
        side = (join.side or "").upper()
        joined = join.this.alias_or_name
        if side == "FULL" or (side == "LEFT" and joined == alias) or (side == "RIGHT" and joined != alias):
            return False
    return True


def _on_filters(select: sge.Select, alias: str) -> list[sge.Expression]:
    """ON conjuncts over ``alias`` alone of the join that brings ``alias`` in, when that join
    filters ``alias`` (inner, or ``alias`` is the null-supplying side of a LEFT join)."""
    out: list[sge.Expression] = []
    for join in select.args.get("joins") or []:
        if join.this.alias_or_name != alias:
            continue
        side = (join.side or "").upper()
        if side in ("", "LEFT") and (join.kind or "").upper() not in ("ANTI", "SEMI", "ASOF"):
            out += [c for c in _conjuncts(join.args.get("on")) if _pushable(c, alias)]
    return out


def _remote_query(backend: AgnesBackend, part: _Part, filters: list[sge.Expression]) -> str:
    """The source query for one part: its columns, its own SQL and the pushed filters — flat
    (``SELECT cols FROM t WHERE own AND pushed``) when the part is a table or a plain filter of
    one, so the source estimates it exactly like the query an analyst would write by hand."""
    import sqlglot.expressions as sge

    compiler = backend.source_compiler(part.source)
    dialect = compiler.dialect
    cols = [sge.column(c, quoted=True) for c in part.columns]

    def bare(pred: sge.Expression) -> sge.Expression:
        copy = pred.copy()
        for column in copy.find_all(sge.Column):
            column.set("table", None)
        return copy

    conditions = [bare(f) for f in filters]
    if is_remote(part.op):
        query = sge.select(*cols).from_(sge.table_(part.op.name, quoted=True))
    else:
        inner = compiler.to_sqlglot(_unmark(part.op).to_expr())
        flat = _plain_filter(inner)
        if flat is not None:
            table, own = flat
            query = sge.select(*cols).from_(sge.table_(table, quoted=True))
            conditions = [bare(c) for c in _conjuncts(own)] + conditions
        else:
            query = sge.select(*cols).from_(inner.subquery("_r"))
    for condition in conditions:
        query = query.where(condition)
    return str(query.sql(dialect=dialect))


def _plain_filter(select: Any) -> tuple[str, Any] | None:
    """``(table, where)`` when ``select`` is ``SELECT <its columns, unrenamed> FROM table [WHERE ...]``
    and nothing else (no join, grouping, window, distinct, limit or subquery)."""
    import sqlglot.expressions as sge

    if not isinstance(select, sge.Select):
        return None
    if any(select.args.get(k) for k in ("joins", "group", "having", "qualify", "distinct", "limit", "offset",
                                        "order", "with_", "windows", "laterals")):
        return None
    source = select.args.get("from_")
    table = source.this if source is not None else None
    if not isinstance(table, sge.Table) or table.args.get("db") or table.args.get("catalog"):
        return None
    for projection in select.expressions:
        if isinstance(projection, sge.Star):
            continue
        if isinstance(projection, sge.Column) and isinstance(projection.this, sge.Star):
            continue
        if not isinstance(projection, sge.Column):
            return None
    where = select.args.get("where")
    if where is not None and (where.find(sge.Select) or where.find(sge.AggFunc) or where.find(sge.Window)):
        return None
    return table.name, (where.this if where is not None else None)
