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
    sub.add_parser("help", add_help=False)
    return parser


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


HELP = """%agnes — Agnes for Jupyter
  %agnes catalog [--search S] [--mode local|remote|materialized] [--source S] [--package P] [--json]
  %agnes schema ID
  %agnes describe ID [-n N]
  %agnes freshness
Python API: import agnes_jupyter as agnes; agnes.catalog(), agnes.schema(id), agnes.sample(id), agnes.describe(id)"""

COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "catalog": _catalog, "schema": _schema, "describe": _describe, "freshness": _freshness,
}


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
        print(exc.one_line(), file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)


def register(ipython: Any) -> None:
    ipython.register_magic_function(agnes_magic, magic_kind="line", magic_name="agnes")
