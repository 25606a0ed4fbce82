"""The ``%agnes`` line magic and the ``%%agnes`` SQL cell.

Expected failures raise an :class:`AgnesError`, which IPython shows as one line and a hint (no
traceback) — and the cell *fails*, so "Run All" and nbconvert stop at a refused scan. The help
text is generated from the argument parser, so it always lists what the parser accepts."""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable
from typing import Any

from .errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}", hint=f"{_root_prog(self.prog)} help lists what it takes")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise UsageError((message or self.format_usage()).strip(), hint="%agnes help lists the subcommands")


def _root_prog(prog: str) -> str:
    return "%%agnes" if prog.startswith("%%") else "%agnes"


# -- %agnes ------------------------------------------------------------------------------------------


def _scan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="a remote table id")
    p.add_argument("--select", default=None, help="comma-separated columns")
    p.add_argument("--where", default=None, help='a filter, e.g. "country = \'CZ\'"')
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--order-by", default=None, help='comma-separated, e.g. "amount DESC,country"')


def _parser() -> _Parser:
    parser = _Parser(prog="%agnes", add_help=False, description="Agnes for Jupyter")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    cat = sub.add_parser("catalog", help="the tables you may use", add_help=False)
    cat.add_argument("--search", "-s", default=None, help="text in names, descriptions or columns")
    cat.add_argument("--mode", "-m", choices=["local", "remote", "materialized"], default=None)
    cat.add_argument("--source", default=None)
    cat.add_argument("--package", default=None)
    cat.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sch = sub.add_parser("schema", help="columns of a table, with ranges and descriptions", add_help=False)
    sch.add_argument("id")
    desc = sub.add_parser("describe", help="a table at a glance: entry, schema and a sample", add_help=False)
    desc.add_argument("id")
    desc.add_argument("-n", type=int, default=5, help="sample rows (1-100)")
    sub.add_parser("freshness", help="how fresh the metadata of remote tables is", add_help=False)
    est = sub.add_parser("estimate", help="what a scan would read and cost, without running it", add_help=False)
    _scan_args(est)
    snap = sub.add_parser("snapshot", help="snapshots of remote scans (create, list, refresh, drop, prune)",
                          add_help=False)
    snap_sub = snap.add_subparsers(dest="action", parser_class=_Parser, metavar="ACTION")
    create = snap_sub.add_parser("create", help="scan through the gate into a snapshot", add_help=False)
    _scan_args(create)
    create.add_argument("--as", dest="name", required=True, help="the snapshot's name")
    create.add_argument("--estimate", action="store_true", help="only show the estimate")
    create.add_argument("--confirm", action="store_true", help="run above the confirmation threshold")
    create.add_argument("--force", action="store_true", help="replace a snapshot of a different query")
    create.add_argument("--max-age", default=None, help="refresh an existing one older than this, e.g. 1d")
    snap_sub.add_parser("list", help="your snapshots", add_help=False)
    refresh = snap_sub.add_parser("refresh", help="run a snapshot's query again", add_help=False)
    refresh.add_argument("name")
    refresh.add_argument("--confirm", action="store_true")
    drop = snap_sub.add_parser("drop", help="delete one snapshot", add_help=False)
    drop.add_argument("name")
    prune = snap_sub.add_parser("prune", help="delete old or large snapshots", add_help=False)
    prune.add_argument("--older-than", default=None, help="e.g. 7d")
    prune.add_argument("--larger-than", default=None, help="e.g. 1g")
    prune.add_argument("--dry-run", action="store_true", help="only say what would go")
    sub.add_parser("snapshots", help="your snapshots (same as: snapshot list)", add_help=False)
    sub.add_parser("packages", help="the data packages you may use, as cards", add_help=False)
    pkg = sub.add_parser("package", help="one data package and its tables", add_help=False)
    pkg.add_argument("slug")
    sub.add_parser("stack", help="My Stack: what sync keeps in your workspace", add_help=False)
    sub.add_parser("recipes", help="parameterised SQL you may run", add_help=False)
    disk = sub.add_parser("disk-info", help="workspace disk use against its cap", add_help=False)
    disk.add_argument("--cap", default=None, help="e.g. 10g")
    sync = sub.add_parser("sync", help="download the tables of My Stack into data/", add_help=False)
    sync.add_argument("--dry-run", action="store_true", help="only say what would change")
    sub.add_parser("help", help="this text", add_help=False)
    return parser


def _cell_parser() -> _Parser:
    parser = _Parser(prog="%%agnes", add_help=False,
                     description="SQL on the workspace DuckDB, or with --remote on a remote source through the "
                                 "gate. :name and {name} are Python variables, bound as typed literals.")
    parser.add_argument("--remote", action="store_true", help="run on the remote source (estimated and gated)")
    parser.add_argument("--as", dest="name", default=None,
                        help="bind the result to NAME (remote: kept as snapshot NAME)")
    parser.add_argument("-n", dest="rows", type=int, default=None, help="rows to show (default 10)")
    parser.add_argument("--confirm", action="store_true", help="run above the confirmation threshold")
    parser.add_argument("--force", action="store_true", help="replace snapshot NAME of a different query")
    parser.add_argument("--max-age", default=None, help="refresh snapshot NAME when older than this, e.g. 1d")
    return parser


def _usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().split())[len("usage: "):]


def _subcommand_lines(parser: argparse.ArgumentParser, indent: str) -> list[str]:
    """Each subcommand's usage and help, its own subcommands indented below it."""
    lines: list[str] = []
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        assert isinstance(action, argparse._SubParsersAction)
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            lines.append(f"{indent}{_usage(sub)}")
            if helps.get(name):
                lines.append(f"{indent}    {helps[name]}")
            lines += _subcommand_lines(sub, indent + "  ")
    return lines


def help_text() -> str:
    """Every subcommand with its arguments, from the parsers themselves."""
    lines = ["%agnes — Agnes for Jupyter", "", *_subcommand_lines(_parser(), "  ")]
    cell = _cell_parser()
    lines += ["", f"  {_usage(cell)}   (a cell: SQL below)",
              f"      {cell.description}"]
    for action in cell._actions:
        if action.option_strings:
            lines.append(f"      {', '.join(action.option_strings):<12} {action.help}")
    lines += ["", "Python: import agnes_jupyter as agnes; agnes.catalog(), agnes.table(id), agnes.sql(...), "
                  "agnes.estimate(expr), agnes.snapshot(expr, name)"]
    return "\n".join(lines)


def _display(obj: object) -> None:
    """Rich output in a notebook, text elsewhere."""
    try:
        from IPython.display import display

        display(obj)
    except ImportError:
        print(repr(obj))


def _scan_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"table": args.id}
    if args.select:
        body["select"] = [c.strip() for c in args.select.split(",") if c.strip()]
    if args.where:
        body["where"] = args.where
    if args.order_by:
        body["order_by"] = [c.strip() for c in args.order_by.split(",") if c.strip()]
    if args.limit is not None:
        body["limit"] = args.limit
    return body


def _catalog(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    result = agnes.catalog(search=args.search, mode=args.mode, source=args.source, package=args.package)
    if args.json:
        print(json.dumps(result.tables, indent=2, default=str))
    else:
        _display(result)


def _snapshot(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    if args.action == "create":
        body = _scan_body(args)
        if args.estimate:
            _display(agnes.estimate(body))
            return
        agnes.snapshot(body, name=args.name, confirm=args.confirm or None, force=args.force, max_age=args.max_age)
    elif args.action in (None, "list"):
        _display(agnes.snapshots())
    elif args.action == "refresh":
        print(repr(agnes.refresh_snapshot(args.name, confirm=args.confirm or None)))
    elif args.action == "drop":
        agnes.drop_snapshot(args.name)
        print(f"dropped snapshot {args.name!r}")
    elif args.action == "prune":
        print(repr(agnes.prune_snapshots(older_than=args.older_than, larger_than=args.larger_than,
                                         dry_run=args.dry_run)))


def _simple(make: Callable[[Any, argparse.Namespace], Any]) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        import agnes_jupyter as agnes

        _display(make(agnes, args))

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "catalog": _catalog,
    "schema": _simple(lambda agnes, a: agnes.schema(a.id)),
    "describe": _simple(lambda agnes, a: agnes.describe(a.id, n=a.n)),
    "freshness": _simple(lambda agnes, a: agnes.freshness()),
    "estimate": _simple(lambda agnes, a: agnes.estimate(_scan_body(a))),
    "snapshot": _snapshot,
    "snapshots": _simple(lambda agnes, a: agnes.snapshots()),
    "packages": _simple(lambda agnes, a: agnes.packages()),
    "package": _simple(lambda agnes, a: agnes.package(a.slug)),
    "stack": _simple(lambda agnes, a: agnes.stack()),
    "recipes": _simple(lambda agnes, a: agnes.recipes()),
    "disk-info": _simple(lambda agnes, a: agnes.disk_info(a.cap)),
    "sync": _simple(lambda agnes, a: agnes.sync(dry_run=a.dry_run)),
}


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read the arguments: {exc}", hint="Close the quote.") from None


def agnes_magic(line: str) -> None:
    """``%agnes``: see ``%agnes help``."""
    args = _parser().parse_args(_split(line))
    if args.command in (None, "help"):
        print(help_text())
        return
    COMMANDS[args.command](args)


# -- %%agnes -----------------------------------------------------------------------------------------


def _user_ns() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - magics run in IPython
        return {}
    shell = get_ipython()
    return dict(shell.user_ns) if shell is not None else {}


def _params(sql: str, dialect: str) -> str:
    """Bind ``:name``/``{name}`` placeholders from the notebook's variables as typed literals."""
    from ._params import bind_params, param_names

    names = {name for _, _, name in param_names(sql, dialect)}
    if not names:
        return sql
    ns = _user_ns()
    return bind_params(sql, {n: ns[n] for n in names if n in ns}, dialect)


def _remote_dialect(sql: str) -> str:
    """The SQL flavor of the source of the first Agnes table the query names (its placeholders
    read as NULL for this look only)."""
    import sqlglot
    from sqlglot import exp

    import agnes_jupyter as agnes

    from ._params import param_names

    probe = sql
    for start, end, _ in reversed(param_names(sql, "duckdb")):
        probe = probe[:start] + "NULL" + probe[end + 1:]
    tree = None
    for read in ("duckdb", ""):  # the workspace's dialect, then sqlglot's generic one
        try:
            tree = sqlglot.parse_one(probe, read=read)
            break
        except sqlglot.errors.ParseError:
            continue
    if tree is None:
        return "duckdb"
    for table in tree.find_all(exp.Table):
        try:
            return str(agnes.schema(table.name).payload.get("sql_flavor") or "duckdb")
        except Exception:  # noqa: BLE001 - not a table of ours: try the next
            continue
    return "duckdb"


def _bind(name: str, value: Any) -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.user_ns[name] = value


def agnes_cell_magic(line: str, cell: str) -> Any:
    """``%%agnes``: the cell's SQL on the workspace DuckDB, or with ``--remote`` on its source
    through the gate; shows the first rows, the row count and the time; ``--as NAME`` binds the
    result (remote: kept as snapshot NAME). The cell's value is the table, so ``_`` works."""
    from ._workspace import check_name

    args = _cell_parser().parse_args(_split(line))
    if not cell.strip():
        raise UsageError("the %%agnes cell has no SQL", hint="Write a query below the %%agnes line.")
    if args.name is not None:
        check_name(args.name, "name")
    rows = 10 if args.rows is None else max(0, args.rows)
    import agnes_jupyter as agnes

    from ._result import shown

    started = time.perf_counter()
    if not args.remote:
        table = agnes.sql(_params(cell, "duckdb"))
        result = shown(table, rows, time.perf_counter() - started, title=args.name or "")
    elif args.name:
        sql = _params(cell, _remote_dialect(cell))
        table = agnes.snapshot(sql, name=args.name, confirm=args.confirm or None, force=args.force,
                               max_age=args.max_age)
        from ._workspace import workspace

        meta = workspace().snapshot_meta(args.name) or {}
        result = shown(table, rows, time.perf_counter() - started, title=f"snapshot {args.name}",
                       scanned_bytes=(meta.get("actual") or {}).get("scanned_bytes"))
    else:
        import ibis

        from ._scans import gated_scans

        sql = _params(cell, _remote_dialect(cell))
        records: list[dict[str, Any]] = []
        arrow = gated_scans([sql], confirm=args.confirm or None, records=records)[0]
        result = shown(ibis.memtable(arrow), rows, time.perf_counter() - started, arrow=arrow,
                       scanned_bytes=records[0].get("scanned_bytes") if records else None)
    if args.name:
        _bind(args.name, result)
    return result


def register(ipython: Any) -> None:
    ipython.register_magic_function(agnes_magic, magic_kind="line", magic_name="agnes")
    ipython.register_magic_function(agnes_cell_magic, magic_kind="cell", magic_name="agnes")
