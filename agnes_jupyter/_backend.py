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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
from ibis.backends.duckdb import Backend as DuckDBBackend
from ibis.expr.operations.relations import Namespace

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

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
    """DuckDB's errors while running an expression as :class:`QueryError` (one line and a hint),
    not a traceback through ibis. The SQL is ibis's, not the user's: no position is given."""
    import duckdb

    from .errors import from_duckdb

    try:
        yield
    except duckdb.Error as exc:
        raise from_duckdb(exc, generated=True) from None


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
    filters: list[ops.Value] = field(default_factory=list)
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

        # the flavor is the sqlglot/ibis dialect name the server's connector declares
        module = getattr(sc, self._sources.get(source, "duckdb"), None) or sc.duckdb
        return module.compiler

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
        _needed_columns(expr.op(), parts)
        for part in parts:
            _narrow(expr.op(), part, self._sources.get(part.source, "duckdb"))
            part.sql = _remote_query(self, part)
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

    def to_parquet(self, expr: ir.Table, /, *args: Any, **kwargs: Any) -> Any:
        with duckdb_errors():
            return super().to_parquet(expr, *args, **kwargs)

    def to_csv(self, expr: ir.Table, /, *args: Any, **kwargs: Any) -> Any:
        with duckdb_errors():
            return super().to_csv(expr, *args, **kwargs)

    def _get_schema_using_query(self, query: str) -> Any:
        if REMOTE in query:
            from .errors import ValidationError

            raise ValidationError("SQL over an expression that reads remote tables cannot run before they are "
                                  "scanned", hint="Run the expression (.to_pandas()) or keep it "
                                                  "(agnes.snapshot(expr, name)), then SQL over the snapshot: "
                                                  "agnes.sql('SELECT ... FROM name').")
        return super()._get_schema_using_query(query)

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
    for target_field in target:
        if target_field.name in arrow.column_names:
            columns.append(arrow.column(target_field.name))
        else:
            columns.append(pa.nulls(arrow.num_rows, target_field.type))
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


# -- pushdown ----------------------------------------------------------------------------------------
#
# Worked out on the ibis operation graph, where every column reference names the relation it comes
# from: exact for any column name, and a filter pushed is the user's own ibis predicate, compiled
# by ibis for the source (no SQL rewriting).

#: Joins after which the first table keeps all its rows / a joined table is filtered by the join.
_KEEPS_FIRST = {"inner", "left", "any_inner", "any_left", "semi", "anti", "cross"}
_FILTERS_JOINED = {"inner", "any_inner", "cross"}
#: Joins whose ON conjuncts over the joined table alone may filter it first.
_ON_PUSHABLE = {"inner", "any_inner", "left", "any_left", "semi", "anti"}

#: What a pushed filter may be made of on a source of another engine: comparisons whose meaning
#: does not depend on the engine (no ordering of text: collations differ; no engine functions).
_PORTABLE = (ops.Field, ops.Literal, ops.Equals, ops.NotEquals, ops.Greater, ops.GreaterEqual, ops.Less,
             ops.LessEqual, ops.And, ops.Or, ops.Not, ops.IsNull, ops.NotNull, ops.InValues, ops.Between,
             ops.IdenticalTo)
_ORDERING = (ops.Greater, ops.GreaterEqual, ops.Less, ops.LessEqual, ops.Between)
#: Never pushed anywhere: results that depend on more than the row, or on when it runs.
_NEVER = (ops.Reduction, ops.Analytic, ops.WindowFunction, ops.Impure, ops.ScalarSubquery, ops.InSubquery,
          ops.ExistsSubquery, ops.ScalarParameter)


def _conjuncts(pred: ops.Value) -> list[ops.Value]:
    if isinstance(pred, ops.And):
        return _conjuncts(pred.left) + _conjuncts(pred.right)
    return [pred]


def _values(pred: ops.Value) -> list[ops.Node]:
    """The nodes of a predicate, not descending into the relations its columns come from."""
    return list(pred.find(ops.Node, filter=lambda n: not isinstance(n, ops.Relation)))


def _portable(pred: ops.Value, flavor: str) -> bool:
    nodes = _values(pred)
    if any(isinstance(n, _NEVER) for n in nodes):
        return False
    if flavor == "duckdb":  # the same engine as the local part: any deterministic row expression
        return True
    for node in nodes:
        if isinstance(node, (ops.Relation, ops.Literal, ops.Field)):
            continue
        if not isinstance(node, _PORTABLE) and not (isinstance(node, ops.Cast) and not isinstance(node, ops.TryCast)
                                                     and (node.to.is_numeric() or node.to.is_temporal())):
            return False
        if isinstance(node, _ORDERING) and any(
                isinstance(arg, ops.Value) and (arg.dtype.is_string() or arg.dtype.is_binary())
                for arg in node.__args__ if isinstance(arg, ops.Value)):
            return False
    return True


def _narrow(root: ops.Node, part: _Part, flavor: str) -> None:
    """Set ``part.filters`` to the filters (over the part's own columns) that hold before it:
    conjuncts of a ``filter()`` above it whose path down to it keeps every row of it (inner joins,
    the preserved side of a left join, filters, sorts and projections without windows or
    aggregates), and ``ON`` conjuncts of the join that brings it in. A part used more than once
    pushes nothing; on a source of another engine only engine-independent comparisons move."""
    from ibis.common.graph import Graph

    graph = Graph.from_bfs(root)
    parents: dict[ops.Node, list[ops.Node]] = {}
    for node, children in graph.items():
        for child in children:
            parents.setdefault(child, []).append(node)
    rel = part.op
    refs = [n for n in parents.get(rel, []) if isinstance(n, ops.Reference) and n.parent == rel]

    # -- filters: only for a part that appears once, through one join reference
    uses = [u for u in parents.get(rel, []) if not isinstance(u, ops.Field)]
    if len(refs) != 1 or len(uses) != 1:
        return
    ref = refs[0]
    pushed: list[ops.Value] = []

    def origin(f: ops.Field) -> str | None:
        """The part's column a field above it is, if the path down keeps every row of the part."""
        node: ops.Field = f
        for _ in range(64):
            holder = node.rel
            if holder == ref:
                return str(node.name)
            if isinstance(holder, ops.JoinChain):
                if not _keeps(holder, ref):
                    return None
                value = holder.values.get(node.name)
            elif isinstance(holder, ops.Project):
                if any(isinstance(n, (*_NEVER, ops.Relation)) and n is not holder
                       for v in holder.values.values() for n in _values(v)):
                    return None  # a window or aggregate beside it would see fewer rows
                value = holder.values.get(node.name)
            elif isinstance(holder, (ops.Filter, ops.Sort)):
                value = ops.Field(holder.parent, node.name)
            else:
                return None
            if not isinstance(value, ops.Field):
                return None
            node = value
        return None

    for node in graph:
        if isinstance(node, ops.Filter):
            for pred in (c for p in node.predicates for c in _conjuncts(p)):
                fields = [n for n in _values(pred) if isinstance(n, ops.Field)]
                if not fields or not _portable(pred, flavor):
                    continue
                mapping = {}
                for f in fields:
                    col = origin(f)
                    if col is None:
                        break
                    mapping[f] = ops.Field(rel, col)
                else:
                    pushed.append(pred.replace(mapping))
        elif isinstance(node, ops.JoinChain):
            for link in node.rest:
                if link.table != ref or link.how not in _ON_PUSHABLE:
                    continue
                for pred in (c for p in link.predicates for c in _conjuncts(p)):
                    fields = [n for n in _values(pred) if isinstance(n, ops.Field)]
                    if fields and all(f.rel == ref for f in fields) and _portable(pred, flavor):
                        pushed.append(pred.replace({f: ops.Field(rel, f.name) for f in fields}))
    part.filters = list(dict.fromkeys(pushed))


def _needed_columns(root: ops.Node, parts: list[_Part]) -> None:
    """Narrow each part to the columns the rest of the expression reads of it: demand flows from
    the result down the operation graph (a projection needs what its needed values read, a
    filter or sort also what its predicates or keys read, a join what its needed values and its
    conditions read, an aggregate its groups and needed metrics); anything unknown needs every
    column of what it reads."""
    from ibis.common.graph import Graph

    graph = Graph.from_bfs(root)
    order = graph.toposort()
    order = order[0] if isinstance(order, tuple) else order
    everything = object()
    needed: dict[ops.Node, Any] = {}

    def need(rel: ops.Node, names: Any) -> None:
        have = needed.get(rel, set())
        if have is everything or names is everything:
            needed[rel] = everything
        else:
            needed[rel] = have | set(names)

    def reads(value: Any) -> None:
        """What a value expression reads: its columns, and every column of a subquery's relation."""
        if not isinstance(value, ops.Node):
            return
        for node in value.find(ops.Value, filter=lambda n: not isinstance(n, ops.Relation)):
            if isinstance(node, ops.Field):
                need(node.rel, {node.name})
            elif isinstance(node, (ops.ScalarSubquery, ops.InSubquery, ops.ExistsSubquery)):
                need(node.rel, everything)
            else:  # e.g. count(*) of a relation: its rows, none of its columns
                for arg in node.__args__:
                    if isinstance(arg, ops.Relation):
                        need(arg, set())

    top = root.to_expr().as_table().op() if isinstance(root, ops.Value) else root
    if isinstance(root, ops.Value):
        reads(root)
    need(top, everything)
    for node in reversed(list(order)):
        if not isinstance(node, ops.Relation) or node not in needed:
            continue
        want = needed[node]
        names = list(node.schema.names) if want is everything else [n for n in node.schema.names if n in want]
        if isinstance(node, ops.Project):
            for name in names:
                reads(node.values[name])
        elif isinstance(node, (ops.Filter, ops.Sort, ops.Limit)):
            need(node.parent, set(names) if want is not everything else everything)
            for arg in (getattr(node, "predicates", ()) or ()) + tuple(getattr(node, "keys", ()) or ()):
                reads(arg)
        elif isinstance(node, ops.Aggregate):
            for value in node.groups.values():
                reads(value)
            for name, value in node.metrics.items():
                if want is everything or name in want:
                    reads(value)
        elif isinstance(node, ops.JoinChain):
            for name in names:
                reads(node.values[name])
            for link in node.rest:
                for pred in link.predicates:
                    reads(pred)
        elif isinstance(node, ops.Reference):
            need(node.parent, set(names) if want is not everything else everything)
        else:  # anything else: every column of every relation it reads
            for arg in node.__args__:
                for item in arg if isinstance(arg, tuple) else (arg.values() if isinstance(arg, dict) else (arg,)):
                    if isinstance(item, ops.Relation):
                        need(item, everything)
                    else:
                        reads(item)
    for part in parts:
        want = needed.get(part.op, everything)
        if want is not everything:
            part.columns = [n for n in part.columns if n in want] or part.columns[:1]


def _keeps(chain: ops.JoinChain, ref: ops.Node) -> bool:
    """Whether every row of ``ref`` that survives its own join survives the whole chain (so a
    filter on it after the join may run before it)."""
    hows = [link.how for link in chain.rest]
    if chain.first == ref:
        return all(h in _KEEPS_FIRST for h in hows)
    for i, link in enumerate(chain.rest):
        if link.table == ref:
            return link.how in _FILTERS_JOINED and all(h in _KEEPS_FIRST for h in hows[i + 1:])
    return False


def _remote_query(backend: AgnesBackend, part: _Part) -> str:
    """The source query for one part: its own expression, the pushed filters and its columns,
    compiled by ibis for the source's dialect."""
    expr = part.op.to_expr()
    if part.filters:
        expr = expr.filter(*[f.to_expr() for f in part.filters])
    expr = expr.select(*part.columns)
    return backend.source_sql(expr)
