"""Lake scan estimates from Parquet metadata alone: the bytes of the referenced columns in the
row groups that survive Hive-partition pruning and row-group min/max pruning.

Pruning is conservative — a file or row group is dropped only when no row in it can match —
so for predicates on partition or sort columns the estimate never falls below what the scan
really reads. Partition predicates are evaluated exactly, by DuckDB, over the partition values;
row-group predicates by interval reasoning over the footers' min/max statistics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from agnes_core.connectors.base import ScanEstimate, TableRead
from agnes_core.connectors.lake.layout import HIVE_DIR_RE, LakeLocation
from agnes_core.discovery.parquet_stats import footer
from agnes_core.gate.sqlbounds import balance_chains


def uniform_schema(files: list[Path]) -> bool:
    """Whether every file has the same Parquet schema (False when a footer cannot be read)."""
    try:
        first = footer(files[0]).schema
        return all(footer(f).schema.equals(first) for f in files[1:])
    except (OSError, ValueError, IndexError):
        return False


@dataclass
class _Stats:
    lo: Any
    hi: Any
    nulls: int | None
    rows: int


@dataclass
class TableCost:
    table: str
    scan_bytes: int = 0
    compressed_bytes: int = 0
    rows_read: int = 0
    files: int = 0
    files_total: int = 0
    row_groups: int = 0
    row_groups_total: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "scan_bytes": self.scan_bytes, "compressed_bytes": self.compressed_bytes,
                "rows_read": self.rows_read, "files": self.files, "files_total": self.files_total,
                "row_groups": self.row_groups, "row_groups_total": self.row_groups_total}


class Constants:
    """Evaluates constant SQL expressions (literals, casts, date arithmetic) with DuckDB, so
    literals compare with statistics in the right type."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self._cache: dict[str, Any] = {}

    def value(self, node: exp.Expr) -> Any:
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Literal):
            return node.to_py()
        if any(isinstance(n, exp.Column) for n in node.walk()):
            raise _Unknown
        text = node.sql(dialect="duckdb", comments=False)
        if text not in self._cache:
            try:
                row = self.con.execute(f"SELECT {text}").fetchone()
            except Exception as exc:
                raise _Unknown from exc
            self._cache[text] = row[0] if row else None
        return self._cache[text]


class _Unknown(Exception):
    pass


def _cmp(a: Any, b: Any) -> int:
    """-1/0/1, comparing across the types DuckDB and Parquet statistics use."""
    a, b = _align(a), _align(b)
    if isinstance(a, dt.datetime) and isinstance(b, dt.date) and not isinstance(b, dt.datetime):
        b = dt.datetime.combine(b, dt.time())
    elif isinstance(b, dt.datetime) and isinstance(a, dt.date) and not isinstance(a, dt.datetime):
        a = dt.datetime.combine(a, dt.time())
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime) and (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    if isinstance(a, str) and isinstance(b, (dt.date, dt.datetime)):
        a = _parse_time(a, b)
    elif isinstance(b, str) and isinstance(a, (dt.date, dt.datetime)):
        b = _parse_time(b, a)
    try:
        return -1 if a < b else (1 if a > b else 0)
    except TypeError as exc:
        raise _Unknown from exc


def _align(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        try:
            return v.decode()
        except UnicodeDecodeError as exc:
            raise _Unknown from exc
    return v


def _parse_time(text: str, like: Any) -> Any:
    try:
        return dt.datetime.fromisoformat(text) if isinstance(like, dt.datetime) else dt.date.fromisoformat(text)
    except ValueError as exc:
        raise _Unknown from exc


def _column_side(node: exp.Binary) -> tuple[str, exp.Expr, bool] | None:
    """(column, other side, flipped) for ``col op x`` or ``x op col``."""
    left, right = node.left, node.right
    while isinstance(left, exp.Paren):
        left = left.this
    while isinstance(right, exp.Paren):
        right = right.this
    if isinstance(left, exp.Column) and not any(isinstance(n, exp.Column) for n in right.walk()):
        return left.name, right, False
    if isinstance(right, exp.Column) and not any(isinstance(n, exp.Column) for n in left.walk()):
        return right.name, left, True
    return None


_FLIP: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ,
}


def may_match(node: exp.Expr, stats: dict[str, _Stats], consts: Constants) -> bool:
    """False only when no row with these min/max statistics can satisfy ``node``."""
    try:
        return _may(node, stats, consts)
    except (_Unknown, RecursionError):
        return True


def _may(node: exp.Expr, stats: dict[str, _Stats], consts: Constants) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _may(node.left, stats, consts) and _may(node.right, stats, consts)
    if isinstance(node, exp.Or):
        return may_match(node.left, stats, consts) or may_match(node.right, stats, consts)
    if isinstance(node, tuple(_FLIP)):
        side = _column_side(node)  # type: ignore[arg-type]
        if side is None or side[0] not in stats:
            return True
        col, other, flipped = side
        s = stats[col]
        value = consts.value(other)
        if value is None:
            return False  # comparisons with NULL are never true
        op = _FLIP[type(node)] if flipped else type(node)
        if s.lo is None or s.hi is None:
            return True
        if op is exp.EQ:
            return _cmp(s.lo, value) <= 0 <= _cmp(s.hi, value)
        if op is exp.NEQ:
            return not (_cmp(s.lo, value) == 0 and _cmp(s.hi, value) == 0 and not s.nulls)
        if op is exp.GT:
            return _cmp(s.hi, value) > 0
        if op is exp.GTE:
            return _cmp(s.hi, value) >= 0
        if op is exp.LT:
            return _cmp(s.lo, value) < 0
        return _cmp(s.lo, value) <= 0  # LTE
    if isinstance(node, exp.Between):
        target = node.this
        if not isinstance(target, exp.Column) or target.name not in stats:
            return True
        s = stats[target.name]
        lo, hi = consts.value(node.args["low"]), consts.value(node.args["high"])
        if lo is None or hi is None or s.lo is None or s.hi is None:
            return lo is not None and hi is not None
        return _cmp(s.hi, lo) >= 0 and _cmp(s.lo, hi) <= 0
    if isinstance(node, exp.In):
        target = node.this
        if not isinstance(target, exp.Column) or target.name not in stats or node.args.get("query") is not None:
            return True
        s = stats[target.name]
        if s.lo is None or s.hi is None:
            return True
        for item in node.expressions:
            v = consts.value(item)
            if v is not None and _cmp(s.lo, v) <= 0 <= _cmp(s.hi, v):
                return True
        return False
    if isinstance(node, exp.Is) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Null):
        known = stats.get(node.this.name)
        return True if known is None or known.nulls is None else known.nulls > 0
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
        inner = node.this
        if isinstance(inner.this, exp.Column) and isinstance(inner.expression, exp.Null):
            found = stats.get(inner.this.name)
            return True if found is None or found.nulls is None else found.nulls < found.rows
    return True


def _stats_of(rg: Any, index: dict[str, int]) -> dict[str, _Stats]:
    out: dict[str, _Stats] = {}
    for name, i in index.items():
        st = rg.column(i).statistics
        if st is None:
            continue
        lo = st.min if st.has_min_max else None
        hi = st.max if st.has_min_max else None
        out[name] = _Stats(lo, hi, st.null_count if st.has_null_count else None, rg.num_rows)
    return out


def _partition_values(loc: LakeLocation, path: Path) -> dict[str, str]:
    values = {}
    for part in path.relative_to(loc.path).parts[:-1]:
        m = HIVE_DIR_RE.match(part)
        if m:
            values[m.group(1)] = m.group(2)
    return values


def _surviving_files(con: Any, loc: LakeLocation, filters: list[list[exp.Expr]],
                     key_types: dict[str, str]) -> set[int]:
    """Indexes of the files some occurrence may read, after partition pruning (exact, by DuckDB
    over the partition values, for conjuncts on partition keys only)."""
    everything = set(range(len(loc.files)))
    if not loc.hive_keys:
        return everything
    keys = set(loc.hive_keys)
    values = [_partition_values(loc, f) for f in loc.files]
    keep: set[int] = set()
    for conjuncts in filters:
        on_keys = [c for c in conjuncts if {col.name for col in c.find_all(exp.Column)} <= keys]
        if not on_keys:
            return everything
        cols = ", ".join(
            f"CAST(unnest(?::VARCHAR[]) AS {key_types.get(k, 'VARCHAR')}) AS {exp.to_identifier(k, quoted=True).sql()}"
            for k in loc.hive_keys)
        where = " AND ".join(f"({c.sql(dialect='duckdb', comments=False)})" for c in on_keys)
        params: list[Any] = [list(range(len(values)))] + [[v.get(k) for v in values] for k in loc.hive_keys]
        sql = f"SELECT i FROM (SELECT unnest(?::BIGINT[]) AS i, {cols}) WHERE {where}"
        try:
            keep |= {int(r[0]) for r in con.execute(sql, params).fetchall()}
        except Exception:  # noqa: BLE001 - not evaluable here: keep every file
            return everything
    return keep


def estimate_parquet(con: Any, loc: LakeLocation, read: TableRead, table: str,
                     key_types: dict[str, str], parse: Callable[[str], exp.Expr]) -> TableCost:
    """Cost of reading ``read.columns`` of a Parquet table under its per-occurrence filters."""
    filters = [[parse(c) for c in occ] for occ in read.filters] or [[]]
    consts = Constants(con)
    cost = TableCost(table, files_total=len(loc.files))
    files = _surviving_files(con, loc, filters, key_types)
    for i, path in enumerate(loc.files):
        md = footer(path)
        cost.row_groups_total += md.num_row_groups
        if i not in files:
            continue
        names = [md.schema.column(j).path for j in range(md.num_columns)]
        index = {n: j for j, n in enumerate(names)}
        wanted = [index[c] for c in read.columns if c in index]
        tested = {c.name for occ in filters for conj in occ for c in conj.find_all(exp.Column)}
        stat_index = {n: index[n] for n in tested if n in index}
        used = False
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            stats = _stats_of(rg, stat_index) if stat_index else {}
            if stats and not any(all(may_match(c, stats, consts) for c in occ) for occ in filters):
                continue
            used = True
            cost.row_groups += 1
            cost.rows_read += rg.num_rows
            for j in wanted:
                col = rg.column(j)
                cost.scan_bytes += col.total_uncompressed_size
                cost.compressed_bytes += col.total_compressed_size
        cost.files += int(used)
    return cost


def parse_conjunct(text: str) -> exp.Expr:
    # Rendering flattens the validator's balanced AND/OR chains; balance them again, so pruning
    # recurses log(n) deep, not once per term.
    return balance_chains(sqlglot.parse_one(text, read="duckdb"))


def estimate_lake(con: Any, parts: list[tuple[LakeLocation, TableRead, dict[str, str]]]) -> ScanEstimate:
    costs = [estimate_parquet(con, loc, read, read.ref.display(), key_types, parse_conjunct)
             for loc, read, key_types in parts]
    return ScanEstimate(
        scan_bytes=sum(c.scan_bytes for c in costs),
        compressed_bytes=sum(c.compressed_bytes for c in costs),
        rows_read=sum(c.rows_read for c in costs),
        method="parquet metadata (partition and row-group pruning)",
        tables=[c.to_json() for c in costs],
    )
