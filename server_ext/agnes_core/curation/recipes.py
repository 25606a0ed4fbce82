"""Recipes: admin-curated, parameterised SQL templates an analyst renders into a notebook cell.

A recipe's SQL names registered tables by id (as scans do) and marks parameters as ``:name``
placeholders. Each parameter has a type (``string``, ``integer``, ``number``, ``boolean``,
``date``, ``timestamp``), an optional default and optional ``choices``. Rendering works on the
sqlglot AST: every placeholder is replaced by a typed literal node, so a value can never become
SQL — ``x' OR 1=1 --`` renders as the string literal it is.

A recipe over local tables only runs on the analyst's workspace DuckDB (``mode: local``); one
that reads a remote table goes through the gate as a scan (``mode: remote``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import sqlglot
from sqlglot import exp

from agnes_core.access.principals import Access, Principal
from agnes_core.connectors.types import LOCAL_DIALECT
from agnes_core.curation.packages import check_slug, check_text, check_unknown
from agnes_core.errors import AlreadyExists, Conflict, NotFound, RecipeParameterError, ValidationError
from agnes_core.events import Change, ChangeHub
from agnes_core.ids import whole_number
from agnes_core.registry import Registry
from agnes_core.sqlsafe import first_write, parse_sql
from agnes_core.store.state import StateStore, dumps, iso, loads, utcnow

PARAM_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")
FIELDS = ("slug", "title", "description", "sql", "parameters")
PARAM_FIELDS = ("name", "type", "default", "description", "choices")
MAX_SQL = 20_000
MAX_PARAMS = 20
PARAM_NAME_MAX = 63


def _coerce(param: dict[str, Any], value: Any) -> Any:
    """``value`` as the parameter's type, or raise RecipeParameterError naming the parameter."""
    name, kind = param["name"], param["type"]

    def bad(expected: str) -> RecipeParameterError:
        return RecipeParameterError(f"parameter {name!r} must be {expected}; got {value!r}",
                                    hint=f"{name}: {kind}" + (f", one of {param['choices']}" if param.get("choices")
                                                              else ""), details={"parameter": name, "type": kind})

    if kind == "string":
        if not isinstance(value, str):
            raise bad("text")
        out: Any = value
    elif kind == "integer":
        if whole_number(value) is None:
            raise bad("a whole number")
        out = whole_number(value)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad("a finite number")
        out = value
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise bad("true or false")
        out = value
    elif kind == "date":
        try:
            out = dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            out = None
        if out is None:
            raise bad("a date like '2026-01-31'")
    else:
        try:
            out = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            out = None
        if out is None:
            raise bad("a timestamp like '2026-01-31T12:00:00'")
    choices = param.get("choices")
    if choices and value not in choices:
        raise RecipeParameterError(f"parameter {name!r} must be one of {choices}; got {value!r}",
                                   details={"parameter": name, "choices": choices})
    return out


def _literal(param: dict[str, Any], value: Any) -> exp.Expr:
    kind = param["type"]
    if kind == "string":
        return exp.Literal.string(value)
    if kind in ("integer", "number"):
        return exp.Literal.number(repr(value))
    if kind == "boolean":
        return exp.Boolean(this=bool(value))
    if kind == "date":
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))


class Recipes:
    def __init__(self, store: StateStore, registry: Registry, access: Access, hub: ChangeHub) -> None:
        self.store = store
        self.registry = registry
        self.access = access
        self.hub = hub

    # -- admin --------------------------------------------------------------------------------

    def _dialect_and_tables(self, tree: exp.Expr) -> tuple[str, list[str], str]:
        """(dialect, table ids read, mode) of a parsed recipe; table names must be registered ids."""
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        ids = []
        for t in tree.find_all(exp.Table):
            if t.name in ctes and not t.db:
                continue
            if t.db or t.catalog or self.registry.find_table(t.name) is None:
                raise ValidationError("sql", f"{t.sql()!r} is not a registered table id",
                                      hint="Name tables by their Agnes id, as in scans (agnes.catalog() lists them).")
            ids.append(t.name)
        ids = list(dict.fromkeys(ids))
        dialect, mode = self._dialect_mode(ids)
        return dialect, ids, mode

    def _dialect_mode(self, ids: list[str]) -> tuple[str, str]:
        """(dialect, mode): local tables run in the workspace (DuckDB); remote ones in their source."""
        tables = [self.registry.find_table(i) for i in ids]
        remote = [t for t in tables if t is not None and t.query_mode == "remote"]
        if not remote:
            return LOCAL_DIALECT, "local"
        if len({t.source for t in remote}) > 1 or len(remote) != len(tables):
            raise ValidationError("sql", "a recipe reads either local tables (run in the workspace) or remote "
                                         "tables of one source (run through the gate), not both", tables=ids)
        from agnes_core.connectors import connector_class

        source = self.registry.get_source(remote[0].source)
        return connector_class(source.type).dialect, "remote"

    def _validate(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ValidationError("body", "expected a JSON object")
        check_unknown(body, FIELDS)
        merged = {**(current or {}), **body}
        if current is not None and body.get("slug", current["slug"]) != current["slug"]:
            raise ValidationError("slug", "a recipe's slug cannot change")
        values: dict[str, Any] = {"slug": check_slug(merged.get("slug"))}
        title = check_text(merged, "title", 200)
        if not title or not title.strip():
            raise ValidationError("title", "title is required", limit=200)
        values["title"] = title
        values["description"] = check_text(merged, "description", 1000) or ""
        sql = check_text(merged, "sql", MAX_SQL)
        if not sql or not sql.strip():
            raise ValidationError("sql", "sql is required: one SELECT with :name parameters", limit=MAX_SQL)
        params = self._check_parameters(merged.get("parameters") or [])
        statements = parse_sql(sql, LOCAL_DIALECT, "sql")
        if len(statements) != 1:
            raise ValidationError("sql", f"a recipe is one SELECT statement (got {len(statements)})")
        tree = statements[0]
        write = first_write(tree)
        if write is not None or not isinstance(tree, exp.Query):
            raise ValidationError("sql", "a recipe only reads: one SELECT, no DDL or DML")
        dialect, tables, _ = self._dialect_and_tables(tree)
        used = {p.name for p in tree.find_all(exp.Placeholder)}
        declared = {p["name"] for p in params}
        if used - declared:
            missing = sorted(used - declared)[0]
            raise ValidationError("parameters", f"the SQL uses :{missing}, which is not declared",
                                  hint="Declare every :name of the SQL in parameters.", parameter=missing)
        if declared - used:
            extra = sorted(declared - used)[0]
            raise ValidationError("parameters", f"parameter {extra!r} is not used in the SQL", parameter=extra)
        if dialect != LOCAL_DIALECT:  # written in the analyst's DuckDB SQL, kept in the source's
            sql = tree.sql(dialect=dialect)
        values.update(sql=sql, parameters=params, tables=tables)
        return values

    def _check_parameters(self, params: Any) -> list[dict[str, Any]]:
        if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
            raise ValidationError("parameters", "parameters must be a list of objects", limit=MAX_PARAMS)
        if len(params) > MAX_PARAMS:
            raise ValidationError("parameters", f"parameters may hold at most {MAX_PARAMS} items (got {len(params)})",
                                  limit=MAX_PARAMS)
        out: list[dict[str, Any]] = []
        for i, raw in enumerate(params):
            field = f"parameters[{i}]"
            unknown = sorted(set(raw) - set(PARAM_FIELDS))
            if unknown:
                raise ValidationError(field, f"unknown field {unknown[0]!r} in {field}")
            name = raw.get("name")
            if not isinstance(name, str) or not name.isidentifier() or len(name) > PARAM_NAME_MAX:
                raise ValidationError(field, f"{field}.name must be an identifier of at most {PARAM_NAME_MAX} "
                                             f"characters; got {name!r}")
            if any(p["name"] == name for p in out):
                raise ValidationError(field, f"parameter {name!r} is declared twice")
            kind = raw.get("type", "string")
            if kind not in PARAM_TYPES:
                raise ValidationError(field, f"{field}.type must be one of {', '.join(PARAM_TYPES)}")
            param: dict[str, Any] = {"name": name, "type": kind,
                                     "description": check_text(raw, "description", 200) or ""}
            choices = raw.get("choices")
            if choices is not None:
                if not isinstance(choices, list) or not choices or len(choices) > 50:
                    raise ValidationError(field, f"{field}.choices must be a list of 1 to 50 values", limit=50)
                for c in choices:
                    _coerce({**param, "choices": None}, c)
                param["choices"] = choices
            if "default" in raw and raw["default"] is not None:
                _coerce(param, raw["default"])
                param["default"] = raw["default"]
            param["required"] = "default" not in param
            out.append(param)
        return out

    def create(self, body: dict[str, Any], actor: str | None) -> dict[str, Any]:
        values = self._validate(body, None)
        now = utcnow()
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM recipes WHERE slug = ?", [values["slug"]]).fetchone():
                raise AlreadyExists(f"a recipe {values['slug']!r} already exists (perhaps deleted)",
                                    hint="Restore it with POST admin/recipes/{slug}/restore, or pick another slug.")
            cur.execute("INSERT INTO recipes (slug, title, description, sql, parameters, tables, created_by, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [values["slug"], values["title"], values["description"], values["sql"],
                         dumps(values["parameters"]), dumps(values["tables"]), actor, now, now])
        self.hub.publish(Change("recipe", "create"))
        return self.get_admin(values["slug"])

    def update(self, slug: str, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        current = self._row(slug, deleted=False)
        base: dict[str, Any] = {"slug": slug}
        if partial:
            stored = self._json(current)
            base = {k: stored[k] for k in FIELDS}
            base["parameters"] = [{k: v for k, v in p.items() if k != "required"} for p in stored["parameters"]]
        values = self._validate(body, base)
        with self.store.write() as cur:
            cur.execute("UPDATE recipes SET title = ?, description = ?, sql = ?, parameters = ?, tables = ?, "
                        "updated_at = ? WHERE slug = ?",
                        [values["title"], values["description"], values["sql"], dumps(values["parameters"]),
                         dumps(values["tables"]), utcnow(), slug])
        self.hub.publish(Change("recipe", "update"))
        return self.get_admin(slug)

    def delete(self, slug: str, actor: str | None) -> dict[str, Any]:
        self._row(slug, deleted=False)
        with self.store.write() as cur:
            cur.execute("UPDATE recipes SET deleted_at = ?, deleted_by = ? WHERE slug = ?", [utcnow(), actor, slug])
        self.hub.publish(Change("recipe", "delete"))
        return self.get_admin(slug, include_deleted=True)

    def restore(self, slug: str) -> dict[str, Any]:
        self._row(slug, deleted=True)
        with self.store.write() as cur:
            cur.execute("UPDATE recipes SET deleted_at = NULL, deleted_by = NULL, updated_at = ? WHERE slug = ?",
                        [utcnow(), slug])
        self.hub.publish(Change("recipe", "restore"))
        return self.get_admin(slug)

    def list_admin(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM recipes" + ("" if include_deleted else " WHERE deleted_at IS NULL") + " ORDER BY slug"
        return [self._json(r) for r in self.store.rows(sql)]

    def get_admin(self, slug: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """One recipe; a soft-deleted one only with ``include_deleted`` (else 404, like a missing one)."""
        row = self.store.row("SELECT * FROM recipes WHERE slug = ?", [slug])
        if row is None or (row["deleted_at"] is not None and not include_deleted):
            raise NotFound(f"no recipe {slug!r}", hint="GET admin/recipes?include_deleted=true lists deleted ones too.",
                           details={"slug": slug})
        return self._json(row)

    def _row(self, slug: str, *, deleted: bool) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM recipes WHERE slug = ?", [slug])
        if deleted and row is not None and row["deleted_at"] is None:
            raise Conflict(f"recipe {slug!r} is not deleted: there is nothing to restore",
                           hint=f"GET admin/recipes/{slug} shows it.", details={"slug": slug})
        if row is None or (row["deleted_at"] is not None) != deleted:
            raise NotFound(f"no {'deleted ' if deleted else ''}recipe {slug!r}",
                           hint="GET admin/recipes?include_deleted=true lists them.", details={"slug": slug})
        return row

    def _json(self, row: dict[str, Any]) -> dict[str, Any]:
        tables = loads(row["tables"], [])
        found = [self.registry.find_table(t) for t in tables]
        mode = "remote" if any(t is not None and t.query_mode == "remote" for t in found) else "local"
        return {"slug": row["slug"], "title": row["title"], "description": row["description"], "sql": row["sql"],
                "parameters": loads(row["parameters"], []), "tables": tables, "mode": mode,
                "created_by": row["created_by"], "created_at": iso(row["created_at"]),
                "updated_at": iso(row["updated_at"]), "deleted_at": iso(row["deleted_at"]),
                "deleted_by": row["deleted_by"]}

    # -- analysts --------------------------------------------------------------------------------

    def visible(self, principal: Principal) -> list[dict[str, Any]]:
        """The recipes the user may see, with their requirement and stack state."""
        granted = self.access.granted(principal, "recipe")
        subscribed = {r["resource_id"] for r in self.store.rows(
            "SELECT resource_id FROM subscriptions WHERE username = ? AND kind = 'recipes'", [principal.username])}
        out = []
        for recipe in self.list_admin():
            requirement = granted.get(recipe["slug"])
            if not principal.is_admin and requirement is None:
                continue
            out.append({**recipe, "requirement": requirement, "subscribed": recipe["slug"] in subscribed,
                        "in_stack": recipe["slug"] in subscribed or requirement == "required",
                        "runnable": all(self.access.can_read(principal, t) for t in recipe["tables"])})
        return out

    def get(self, principal: Principal, slug: str) -> dict[str, Any]:
        for recipe in self.visible(principal):
            if recipe["slug"] == slug:
                return recipe
        raise NotFound(f"no recipe {slug!r}", hint="agnes.recipes() lists the recipes you may use.",
                       details={"slug": slug})

    def render(self, principal: Principal, slug: str, values: Any) -> dict[str, Any]:
        """The recipe's SQL with every parameter replaced by a typed literal (on the AST)."""
        recipe = self.get(principal, slug)
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise ValidationError("params", "params must be an object of parameter values")
        params = {p["name"]: p for p in recipe["parameters"]}
        unknown = sorted(set(values) - set(params))
        if unknown:
            raise RecipeParameterError(f"recipe {slug!r} has no parameter {unknown[0]!r}",
                                       hint=f"parameters: {', '.join(params) or '(none)'}",
                                       details={"parameter": unknown[0]})
        bound: dict[str, Any] = {}
        for name, param in params.items():
            if name in values:
                bound[name] = _coerce(param, values[name])
            elif "default" in param:
                bound[name] = _coerce(param, param["default"])
            else:
                raise RecipeParameterError(f"recipe {slug!r} needs a value for {name!r}",
                                           hint=f"{name}: {param['type']}" + (f" — {param['description']}"
                                                                             if param["description"] else ""),
                                           details={"parameter": name})
        dialect, _ = self._dialect_mode(recipe["tables"])
        tree = sqlglot.parse_one(recipe["sql"], read=dialect)

        def replace(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Placeholder) and node.name in params:
                return _literal(params[node.name], bound[node.name])
            return node

        rendered = tree.transform(replace)
        shown = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in bound.items()}
        sql = rendered.sql(dialect=dialect, pretty=True)
        return {"slug": slug, "sql": sql, "dialect": dialect, "mode": recipe["mode"], "tables": recipe["tables"],
                "params": shown, "cell": recipe_cell(slug, recipe["title"], recipe["mode"], shown, sql)}


def one_line(text: str) -> str:
    """``text`` with every line break, control and format character replaced by a space."""
    import unicodedata

    return "".join(" " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
                   else ch for ch in text)


def recipe_cell(slug: str, title: str, mode: str, shown: dict[str, Any], sql: str) -> str:
    """The notebook cell that runs a rendered recipe — one text for ``recipe().insert()`` and the
    panel's *Insert into notebook*. The header is one comment line whatever the title holds (a
    line break in it must not become code)."""
    import re

    values = ", ".join(f"{k}={v!r}" for k, v in shown.items())
    header = one_line(f"-- recipe {slug}: {title}" + (f" ({values})" if values else ""))
    if mode == "remote":
        return f"%%agnes --remote --as {re.sub(r'[^A-Za-z0-9_]', '_', slug)}\n{header}\n{sql}"
    return f"%%agnes\n{header}\n{sql}"
