"""``jupyter agnes``: scriptable admin commands.

The data dir is resolved like the server's (``--data-dir``, else ``$AGNES_DATA_DIR``,
else ``<jupyter data dir>/agnes``). DuckDB lets one process write the state store,
so when a server is running on that data dir the commands go through its API;
otherwise they open the store directly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agnes_core.errors import AgnesError, ValidationError

from . import __version__
from .backends import (
    AnyBackend,
    ApiBackend,
    LocalBackend,
    ensure_grant,
    upsert_package,
    upsert_recipe,
    upsert_source,
    upsert_table,
)
from .paths import resolve_data_dir, running_server


def _kv(pairs: Sequence[str] | None, field: str) -> dict[str, Any]:
    """Parse ``key=value`` pairs; values that are valid JSON are decoded (numbers, objects)."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(field, f"expected key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _body_from(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "from_json", None):
        text = sys.stdin.read() if args.from_json == "-" else Path(args.from_json).read_text()
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ValidationError("from_json", f"not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ValidationError("from_json", "expected a JSON object")
        return body
    return {}


def _source_body(args: argparse.Namespace, *, partial: bool) -> dict[str, Any]:
    body = _body_from(args)
    if not partial:
        body.setdefault("name", args.name)
    if args.type:
        body["type"] = args.type
    if args.option:
        body["options"] = {**body.get("options", {}), **_kv(args.option, "options")}
    if args.secret:
        body["secrets"] = {**body.get("secrets", {}), **_kv(args.secret, "secrets")}
    return body


_TABLE_FLAGS = ("source", "bucket", "source_table", "query_mode", "description", "folder", "schedule", "sql",
                "incremental_key", "name")


def _table_body(args: argparse.Namespace, *, partial: bool) -> dict[str, Any]:
    body = _body_from(args)
    if not partial:
        body.setdefault("id", args.id)
    for flag in _TABLE_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            body[flag] = value
    if args.primary_key:
        keys = [k for k in args.primary_key.split(",") if k]
        body["primary_key"] = keys[0] if len(keys) == 1 else keys
    return body


# -- output --------------------------------------------------------------------------------


def _print(args: argparse.Namespace, payload: Any, text: Callable[[Any], str] | None = None) -> None:
    if args.json or text is None:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(text(payload))


def _table_text(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() for row in cells]
    return "\n".join(lines)


# -- commands ------------------------------------------------------------------------------


def cmd_status(backend: AnyBackend, args: argparse.Namespace) -> None:
    _print(args, backend.status(), lambda s: "\n".join(f"{k}: {v}" for k, v in s.items()))


def cmd_demo(backend: AnyBackend, args: argparse.Namespace) -> None:
    from agnes_core.demo import DEMO_GRANTS, demo_packages, demo_recipes, demo_source, demo_tables, write_demo_lake

    path = Path(args.path).expanduser().resolve() if args.path else backend.data_dir / "demo-lake"
    started = time.monotonic()
    last = [0.0]

    def progress(step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] > 1.0:
            last[0] = now
            print(f"  {step}: {done}/{total}", file=sys.stderr, flush=True)

    print(f"Writing the demo lake ({args.rows:,} events over {args.days} days) to {path}", file=sys.stderr)
    lake = write_demo_lake(path, rows=args.rows, days=args.days, seed=args.seed, progress=progress)
    source = demo_source(lake.path)
    upsert_source(backend, source)
    registered = [upsert_table(backend, t)["id"] for t in demo_tables()]
    for table_id in registered:  # a team server's analysts see the demo too
        ensure_grant(backend, {"group": "Everyone", "resource_type": "table", "resource_id": table_id,
                               "requirement": "available"})
    for package in demo_packages():
        upsert_package(backend, package)
    for recipe in demo_recipes():
        upsert_recipe(backend, recipe)
    for kind, rid, requirement in DEMO_GRANTS:
        ensure_grant(backend, {"group": "Everyone", "resource_type": kind, "resource_id": rid,
                               "requirement": requirement})
    elapsed = time.monotonic() - started
    result = {"path": str(lake.path), "rows": lake.rows, "days": lake.days, "source": source["name"],
              "tables": registered, "packages": [p["slug"] for p in demo_packages()],
              "recipes": [r["slug"] for r in demo_recipes()], "via": backend.describe(),
              "seconds": round(elapsed, 1)}
    _print(args, result, lambda r: (
        f"Demo lake ready in {r['seconds']} s: source '{r['source']}' with tables "
        f"{', '.join(r['tables'])}, packages {', '.join(r['packages'])} and recipes "
        f"{', '.join(r['recipes'])} (registered {r['via']})."))


def cmd_sources(backend: AnyBackend, args: argparse.Namespace) -> None:
    action = args.action
    if action == "list":
        _print(args, backend.list_sources(), lambda rows: _table_text(rows, ("name", "type")))
    elif action == "add":
        _print(args, backend.add_source(_source_body(args, partial=False)))
    elif action == "get":
        _print(args, backend.get_source(args.name))
    elif action == "update":
        _print(args, backend.update_source(args.name, _source_body(args, partial=True)))
    elif action == "delete":
        backend.delete_source(args.name)
        print(f"deleted source {args.name}", file=sys.stderr)
    elif action == "test":
        _print(args, backend.test_source(args.name),
               lambda r: "OK: " + ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("ok", "source")))
    elif action == "discover":
        _print(args, backend.discover_source(args.name), lambda r: _table_text(
            [{**t, "columns": len(t["columns"]), "registered_as": ",".join(t["registered_as"])} for t in r["tables"]],
            ("bucket", "source_table", "entity_type", "columns", "registered_as")))


def cmd_tables(backend: AnyBackend, args: argparse.Namespace) -> None:
    action = args.action
    if action == "list":
        _print(args, backend.list_tables(),
               lambda rows: _table_text(rows, ("id", "source", "query_mode", "source_table", "schedule")))
    elif action == "register":
        _print(args, backend.register_table(_table_body(args, partial=False)))
    elif action == "get":
        _print(args, backend.get_table(args.id))
    elif action == "update":
        _print(args, backend.update_table(args.id, _table_body(args, partial=True)))
    elif action == "delete":
        backend.delete_table(args.id)
        print(f"deleted table {args.id}", file=sys.stderr)
    elif action == "extract":
        run = backend.extract_table(args.id)
        _print(args, run, lambda r: f"{r['status']}: {r['rows']} rows, {r['size_bytes']} bytes in "
               f"{r['duration_ms']} ms" if r["status"] == "succeeded" else f"{r['status']}: {r['error']}")
        if run["status"] == "failed":
            raise AgnesError(f"the extract of {args.id} failed: {run['error']}", hint="See the runs for details.")
    elif action == "runs":
        _print(args, backend.table_runs(args.id), lambda r: _table_text(
            r["runs"], ("run_id", "status", "trigger", "started_at", "rows", "error")))
    elif action == "describe":
        body = _describe_body(args)
        table = backend.update_table(args.id, body) if body else backend.get_table(args.id)
        _print(args, {"id": table["id"], "description": table["description"],
                      "column_descriptions": table.get("column_descriptions") or {}}, _descriptions_text)


def _describe_body(args: argparse.Namespace) -> dict[str, Any]:
    """``--description TEXT`` and ``--column NAME=TEXT`` (``NAME=`` removes that column's text)."""
    body: dict[str, Any] = {}
    if args.description is not None:
        body["description"] = args.description
    columns: dict[str, str | None] = {}
    for pair in args.column or ():
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValidationError("column", f"expected NAME=TEXT, got {pair!r}",
                                  hint='e.g. --column "amount=Order total in EUR"')
        columns[name] = text or None
    if columns:
        body["column_descriptions"] = columns
    return body


def _descriptions_text(table: dict[str, Any]) -> str:
    own = table["description"] or "(none of its own: the source's description shows)"
    lines = [f"{table['id']}: {own}"]
    lines += [f"  {name}: {text}" for name, text in sorted(table["column_descriptions"].items())]
    return "\n".join(lines)


def cmd_users(backend: AnyBackend, args: argparse.Namespace) -> None:
    if args.action == "list":
        _print(args, backend.list_users(), lambda rows: _table_text(
            [{**u, "groups": ",".join(u["groups"])} for u in rows],
            ("username", "display_name", "is_active", "groups")))
    elif args.action == "add":
        _print(args, backend.add_user({"username": args.username, "display_name": args.display_name}))
    elif args.action in ("activate", "deactivate"):
        _print(args, backend.set_user_active(args.username, args.action == "activate"))
    elif args.action == "token":
        token = backend.issue_token(args.username, {"name": args.name, "expires_in_days": args.expires_in_days})
        _print(args, token, lambda t: f"{t['token']}\n(shown once; store it now: it is kept only as a hash)")


def cmd_groups(backend: AnyBackend, args: argparse.Namespace) -> None:
    if args.action == "list":
        _print(args, backend.list_groups(), lambda rows: _table_text(
            [{**g, "members": ",".join(g["members"]) or ("(everyone)" if g["implicit_members"] else "")}
             for g in rows], ("name", "members", "description")))
    elif args.action == "add":
        _print(args, backend.add_group({"name": args.name, "description": args.description or ""}))
    elif args.action == "delete":
        backend.delete_group(args.name)
    elif args.action == "add-member":
        _print(args, backend.add_member(args.name, args.username))
    elif args.action == "remove-member":
        backend.remove_member(args.name, args.username)


def cmd_grants(backend: AnyBackend, args: argparse.Namespace) -> None:
    if args.action == "list":
        _print(args, backend.list_grants(), lambda rows: _table_text(
            rows, ("id", "group", "resource_type", "resource_id", "requirement")))
    elif args.action == "add":
        _print(args, backend.add_grant({"group": args.group, "resource_type": "table", "resource_id": args.table,
                                        "requirement": args.requirement}))
    elif args.action == "delete":
        backend.delete_grant(args.id)


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter agnes",
        description="Agnes for Jupyter: admin commands. Goes through the running server's API when one "
        "serves the data dir, else opens the state store directly.",
    )
    parser.add_argument("--version", action="version", version=f"agnes-jupyter {__version__}")
    parser.add_argument("--data-dir", default=None,
                        help="the server's data dir (default: $AGNES_DATA_DIR, else <jupyter data dir>/agnes)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("status", help="data dir, state store version, running server").set_defaults(fn=cmd_status)

    demo = sub.add_parser("demo", help="write the demo Parquet lake and register it as source 'demo'")
    demo.add_argument("--rows", type=int, default=5_000_000, help="events rows (default 5,000,000)")
    demo.add_argument("--days", type=int, default=90, help="days of events, one Hive partition each (default 90)")
    demo.add_argument("--path", default=None, help="where to write the lake (default <data dir>/demo-lake)")
    demo.add_argument("--seed", type=int, default=42, help="seed of the deterministic data (default 42)")
    demo.set_defaults(fn=cmd_demo)

    sources = sub.add_parser("sources", help="manage sources")
    sources.set_defaults(fn=cmd_sources)
    s_sub = sources.add_subparsers(dest="action", required=True)
    s_sub.add_parser("list")
    for action in ("add", "update"):
        p = s_sub.add_parser(action)
        p.add_argument("name")
        p.add_argument("--type", default=None, help="connector type, e.g. lake or postgres")
        p.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", help="a connector option")
        p.add_argument("--secret", action="append", metavar="KEY=ENV_VAR",
                       help="a secret, as the NAME of the environment variable that holds it")
        p.add_argument("--from-json", metavar="FILE", help="read the body from a JSON file ('-' for stdin)")
    for action in ("get", "delete", "test", "discover"):
        s_sub.add_parser(action).add_argument("name")

    tables = sub.add_parser("tables", help="manage registered tables")
    tables.set_defaults(fn=cmd_tables)
    t_sub = tables.add_subparsers(dest="action", required=True)
    t_sub.add_parser("list")
    for action in ("register", "update"):
        p = t_sub.add_parser(action)
        p.add_argument("id")
        p.add_argument("--source", default=None)
        p.add_argument("--bucket", default=None)
        p.add_argument("--source-table", dest="source_table", default=None)
        p.add_argument("--mode", dest="query_mode", choices=["local", "remote", "materialized"], default=None)
        p.add_argument("--description", default=None)
        p.add_argument("--name", default=None)
        p.add_argument("--primary-key", dest="primary_key", default=None, help="a column, or columns a,b")
        p.add_argument("--folder", default=None)
        p.add_argument("--schedule", default=None, help="'every 6h' or a cron expression (UTC)")
        p.add_argument("--sql", default=None, help="the SELECT of a materialized table")
        p.add_argument("--incremental-key", dest="incremental_key", default=None)
        p.add_argument("--from-json", metavar="FILE", help="read the body from a JSON file ('-' for stdin)")
    for action in ("get", "delete", "extract", "runs"):
        t_sub.add_parser(action).add_argument("id")
    p = t_sub.add_parser("describe", help="show or set the admin descriptions of a table and its columns "
                         "(they win over the source's own)")
    p.add_argument("id")
    p.add_argument("--description", default=None, help="the table's description ('' goes back to the source's)")
    p.add_argument("--column", "-c", action="append", metavar="NAME=TEXT",
                   help="a column's description; NAME= removes it (repeatable)")

    users = sub.add_parser("users", help="manage users (for team servers without JupyterHub)")
    users.set_defaults(fn=cmd_users)
    u_sub = users.add_subparsers(dest="action", required=True)
    u_sub.add_parser("list")
    p = u_sub.add_parser("add")
    p.add_argument("username")
    p.add_argument("--display-name", dest="display_name", default=None)
    for action in ("activate", "deactivate"):
        u_sub.add_parser(action).add_argument("username")
    p = u_sub.add_parser("token", help="issue a personal access token for a user (shown once)")
    p.add_argument("username")
    p.add_argument("--name", required=True, help="what the token is for")
    p.add_argument("--expires-in-days", dest="expires_in_days", type=int, default=90)

    groups = sub.add_parser("groups", help="manage groups and members")
    groups.set_defaults(fn=cmd_groups)
    g_sub = groups.add_subparsers(dest="action", required=True)
    g_sub.add_parser("list")
    p = g_sub.add_parser("add")
    p.add_argument("name")
    p.add_argument("--description", default=None)
    g_sub.add_parser("delete").add_argument("name")
    for action in ("add-member", "remove-member"):
        p = g_sub.add_parser(action)
        p.add_argument("name")
        p.add_argument("username")

    grants = sub.add_parser("grants", help="grant tables to groups")
    grants.set_defaults(fn=cmd_grants)
    gr_sub = grants.add_subparsers(dest="action", required=True)
    gr_sub.add_parser("list")
    p = gr_sub.add_parser("add")
    p.add_argument("--group", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--requirement", choices=["required", "available"], default="available")
    gr_sub.add_parser("delete").add_argument("id")
    return parser


def open_backend(data_dir: Path) -> AnyBackend:
    server = running_server(data_dir)
    if server is not None:
        return ApiBackend(data_dir, server)
    return LocalBackend(data_dir)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    backend: AnyBackend | None = None
    try:
        backend = open_backend(data_dir)
        args.fn(backend, args)
        return 0
    except AgnesError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if backend is not None:
            backend.close()


if __name__ == "__main__":
    sys.exit(main())
