"""The ``%agnes`` magics. Expected failures print one line and a hint, never a traceback."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from typing import Any

from .errors import AgnesError


class MagicUsageError(Exception):
    """Bad magic arguments: printed as a usage line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise MagicUsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise MagicUsageError(message or self.format_usage())


def _parser() -> _Parser:
    parser = _Parser(prog="%agnes", add_help=False,
                     description="Agnes for Jupyter. Subcommands: catalog.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    cat = sub.add_parser("catalog", help="list the tables you may use", add_help=False)
    cat.add_argument("--search", "-s", default=None)
    cat.add_argument("--mode", "-m", choices=["local", "remote", "materialized"], default=None)
    cat.add_argument("--source", default=None)
    cat.add_argument("--package", default=None)
    cat.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sch = sub.add_parser("schema", help="columns of a table", add_help=False)
    sch.add_argument("id")
    desc = sub.add_parser("describe", help="a table at a glance", add_help=False)
    desc.add_argument("id")
    desc.add_argument("-n", type=int, default=5, help="sample rows (1-100)")
    sub.add_parser("freshness", help="metadata freshness of remote tables", add_help=False)
    est = sub.add_parser("estimate", help="what a scan would read and cost", add_help=False)
    _scan_args(est)
    snap = sub.add_parser("snapshot", help="snapshots of remote scans", add_help=False)
    snap_sub = snap.add_subparsers(dest="action", parser_class=_Parser)
    create = snap_sub.add_parser("create", add_help=False)
    _scan_args(create)
    create.add_argument("--as", dest="name", required=True)
    create.add_argument("--estimate", action="store_true", help="only show the estimate")
    create.add_argument("--confirm", action="store_true")
    create.add_argument("--force", action="store_true")
    snap_sub.add_parser("list", add_help=False)
    refresh = snap_sub.add_parser("refresh", add_help=False)
    refresh.add_argument("name")
    refresh.add_argument("--confirm", action="store_true")
    drop = snap_sub.add_parser("drop", add_help=False)
    drop.add_argument("name")
    prune = snap_sub.add_parser("prune", add_help=False)
    prune.add_argument("--older-than", default=None)
    prune.add_argument("--larger-than", default=None)
    prune.add_argument("--dry-run", action="store_true")
    disk = sub.add_parser("disk-info", help="workspace disk use", add_help=False)
    disk.add_argument("--cap", default=None)
    sync = sub.add_parser("sync", help="download the tables of My Stack into data/", add_help=False)
    sync.add_argument("--dry-run", action="store_true", help="only say what would change")
    sub.add_parser("help", add_help=False)
    return parser


def _scan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    p.add_argument("--select", default=None, help="comma-separated columns")
    p.add_argument("--where", default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--order-by", default=None, help='comma-separated, e.g. "amount DESC,country"')


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
        print(repr(result))


def _display(obj: object) -> None:
    """Rich output in a notebook, text elsewhere."""
    try:
        from IPython.display import display

        display(obj)
    except ImportError:
        print(repr(obj))


def _schema(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    _display(agnes.schema(args.id))


def _describe(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    _display(agnes.describe(args.id, n=args.n))


def _freshness(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    _display(agnes.freshness())


def _estimate(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    _display(agnes.estimate(_scan_body(args)))


def _snapshot(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    if args.action == "create":
        body = _scan_body(args)
        if args.estimate:
            _display(agnes.estimate(body))
            return
        agnes.snapshot(body, name=args.name, confirm=args.confirm, force=args.force)
    elif args.action in (None, "list"):
        _display(agnes.snapshots())
    elif args.action == "refresh":
        print(repr(agnes.refresh_snapshot(args.name, confirm=args.confirm)))
    elif args.action == "drop":
        agnes.drop_snapshot(args.name)
        print(f"dropped snapshot {args.name!r}")
    elif args.action == "prune":
        print(repr(agnes.prune_snapshots(older_than=args.older_than, larger_than=args.larger_than,
                                         dry_run=args.dry_run)))


def _disk_info(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    _display(agnes.disk_info(args.cap))


def _sync(args: argparse.Namespace) -> None:
    import agnes_jupyter as agnes

    _display(agnes.sync(dry_run=args.dry_run))


HELP = """%agnes — Agnes for Jupyter
  %agnes catalog [--search S] [--mode local|remote|materialized] [--source S] [--package P] [--json]
  %agnes schema ID
  %agnes describe ID [-n N]
  %agnes freshness
  %agnes estimate ID [--select a,b] [--where "..."] [--order-by "a DESC"] [--limit N]
  %agnes snapshot create ID [--select ...] [--where ...] [--limit N] [--order-by ...] --as NAME
                  [--estimate] [--confirm] [--force]
  %agnes snapshot list | refresh NAME [--confirm] | drop NAME
  %agnes snapshot prune [--older-than 7d] [--larger-than 1g] [--dry-run]
  %agnes disk-info [--cap 10g]
  %agnes sync [--dry-run]        (download the tables of My Stack into data/; --dry-run only reports)
  %%agnes [--remote] [--as NAME] [--confirm]   (cell: SQL on the local DuckDB; --remote scans it
                                                 through the gate and keeps it as snapshot NAME)
Python API: import agnes_jupyter as agnes; agnes.catalog(), agnes.schema(id), agnes.sample(id), agnes.describe(id)"""

COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "catalog": _catalog, "schema": _schema, "describe": _describe, "freshness": _freshness,
    "estimate": _estimate, "snapshot": _snapshot, "disk-info": _disk_info, "sync": _sync,
}


def _cell_parser() -> _Parser:
    parser = _Parser(prog="%%agnes", add_help=False)
    parser.add_argument("--remote", action="store_true")
    parser.add_argument("--as", dest="name", default=None)
    parser.add_argument("--confirm", action="store_true")
    parser.add_argument("--force", action="store_true")
    return parser


def _report(exc: AgnesError) -> None:
    print(exc.one_line(), file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)


def agnes_cell_magic(line: str, cell: str) -> Any:
    """``%%agnes``: the cell's SQL on the local DuckDB (an ibis table), or with ``--remote``
    through the gate into snapshot ``--as NAME``."""
    try:
        args = _cell_parser().parse_args(shlex.split(line))
    except (MagicUsageError, ValueError) as exc:
        print(str(exc).strip(), file=sys.stderr)
        print("hint: %%agnes [--remote] [--as NAME] [--confirm]", file=sys.stderr)
        return None
    import agnes_jupyter as agnes

    try:
        if args.remote:
            if not args.name:
                print("%%agnes --remote needs --as NAME (the snapshot to keep the result in)", file=sys.stderr)
                print("hint: %%agnes --remote --as recent_events", file=sys.stderr)
                return None
            return agnes.snapshot(cell, name=args.name, confirm=args.confirm, force=args.force)
        result = agnes.sql(cell)
        if args.name:
            print("note: --as names snapshots of --remote scans; the local result is returned", file=sys.stderr)
        return result
    except AgnesError as exc:
        _report(exc)
        return None


def agnes_magic(line: str) -> None:
    """Entry point of ``%agnes``."""
    try:
        args = _parser().parse_args(shlex.split(line))
    except (MagicUsageError, ValueError) as exc:
        print(str(exc).strip(), file=sys.stderr)
        print("hint: %agnes help lists the subcommands", file=sys.stderr)
        return
    if args.command in (None, "help"):
        print(HELP)
        return
    try:
        COMMANDS[args.command](args)
    except AgnesError as exc:
        _report(exc)


def register(ipython: Any) -> None:
    ipython.register_magic_function(agnes_magic, magic_kind="line", magic_name="agnes")
    ipython.register_magic_function(agnes_cell_magic, magic_kind="cell", magic_name="agnes")
