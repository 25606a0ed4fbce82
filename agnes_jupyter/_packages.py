"""Data packages, My Stack and recipes in the kernel: Browse as cards, the stack as a list, and
recipes rendered by the server (values become typed SQL literals there) into a runnable cell."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ._catalog import Catalog, freshness_html, mode_badge
from ._client import current as _client
from ._collection import Collection
from ._display import badge, border, esc, html_table, human_bytes, human_count, muted, text_table
from .errors import AgnesError


def _lifecycle(value: str) -> str:
    return badge(value, "lifecycle: " + {"prod": "in production", "poc": "a proof of concept",
                                         "coming-soon": "announced, not usable yet",
                                         "draft": "being prepared by an admin"}.get(value, value))


class PackageTables(Catalog):
    """The tables of one package: its entries merged with what the catalog knows of each (mode,
    freshness, rows, size); a table you may not read is listed with ``readable`` false."""

    empty = "this package has no tables"

    def __init__(self, slug: str, tables: list[dict[str, Any]]) -> None:
        super().__init__(tables)
        self.slug = slug

    def _heading(self) -> str:
        return f"tables of package {self.slug!r}: {len(self.items)}"

    def _html_heading(self) -> str:
        return f"tables of {self.slug} — {len(self.items)}"

    def _row(self, t: dict[str, Any]) -> list[str]:
        row = super()._row(t)
        if not t.get("readable", True):
            row[-1] = "(no access) " + row[-1]
        return row

    def _html_rows(self) -> list[list[str]]:
        rows = super()._html_rows()
        for row, t in zip(rows, self.items, strict=True):
            if not t.get("readable", True):
                row[0] += " " + badge("no access", "not granted to your groups", tone="error")
        return rows


class Package:
    """One data package: what it is for, its tables (``.tables``, with mode and freshness) and
    whether it is in your stack. ``add_to_stack()`` / ``remove_from_stack()`` change that;
    ``to_dict()`` is the raw payload, and ``package["field"]`` reads a field of it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._tables: PackageTables | None = None

    # -- fields ------------------------------------------------------------------------------------

    @property
    def slug(self) -> str:
        return str(self.data["slug"])

    @property
    def title(self) -> str:
        return str(self.data.get("title") or self.slug)

    @property
    def lifecycle(self) -> str:
        return str(self.data.get("lifecycle") or "")

    @property
    def description(self) -> str:
        return str(self.data.get("description") or "")

    @property
    def long_description(self) -> str:
        return str(self.data.get("long_description") or "")

    @property
    def category(self) -> str | None:
        return self.data.get("category")

    @property
    def tags(self) -> list[str]:
        return list(self.data.get("tags") or [])

    @property
    def owner(self) -> str:
        """Owner and team, as one line ("" when neither is set)."""
        return " · ".join(str(x) for x in (self.data.get("owner_name"), self.data.get("owner_team")) if x)

    @property
    def example_questions(self) -> list[str]:
        return list(self.data.get("example_questions") or [])

    @property
    def when_to_use(self) -> list[str]:
        return list(self.data.get("when_to_use") or [])

    @property
    def when_not_to_use(self) -> list[str]:
        return list(self.data.get("when_not_to_use") or [])

    @property
    def requirement(self) -> str | None:
        """``required`` or ``available`` as granted to your groups; None when not granted (admins)."""
        return self.data.get("requirement")

    @property
    def in_stack(self) -> bool:
        return bool(self.data.get("in_stack"))

    @property
    def table_ids(self) -> list[str]:
        return [t["id"] for t in self.data.get("tables") or []]

    @property
    def tables(self) -> PackageTables:
        """The package's tables with what the catalog knows of each (one catalog request, then kept)."""
        if self._tables is None:
            try:
                known = {t["id"]: t for t in _client().get("catalog", package=self.slug)["tables"]}
            except AgnesError:
                known = {}  # the card still lists the tables, without freshness
            merged = [{**t, **known.get(t["id"], {}), "readable": t.get("readable", True)}
                      for t in self.data.get("tables") or []]
            self._tables = PackageTables(self.slug, merged)
        return self._tables

    def to_dict(self) -> dict[str, Any]:
        """The package as the server sent it."""
        return dict(self.data)

    def __getitem__(self, field: str) -> Any:
        return self.data[field]

    def get(self, field: str, default: Any = None) -> Any:
        return self.data.get(field, default)

    # -- My Stack ----------------------------------------------------------------------------------

    def add_to_stack(self) -> Stack:
        """Subscribe to this package; the next ``agnes.sync()`` brings its local tables."""
        stack = add_to_stack(self.slug)
        self.data["subscribed"] = True
        self.data["in_stack"] = True
        return stack

    def remove_from_stack(self) -> None:
        """Unsubscribe; a package granted to you as required stays (the error says why)."""
        remove_from_stack(self.slug)
        self.data["subscribed"] = False
        self.data["in_stack"] = self.requirement == "required"

    # -- display -----------------------------------------------------------------------------------

    def _marks(self) -> list[str]:
        marks = []
        if self.requirement == "required":
            marks.append("required")
        elif self.in_stack:
            marks.append("in my stack")
        return marks

    def __repr__(self) -> str:
        state = ", ".join([self.lifecycle, *self._marks()])
        lines = [f"package {self.slug!r}: {self.title} ({state})"]
        for text in (self.description, self.long_description):
            if text:
                lines.append(text)
        if self.owner:
            lines.append(f"owner: {self.owner}")
        if self.tags:
            lines.append("tags: " + " ".join(f"#{t}" for t in self.tags))
        lines += [f"use it for: {u}" for u in self.when_to_use]
        lines += [f"not for: {u}" for u in self.when_not_to_use]
        lines += [f"ask: {q}" for q in self.example_questions]
        tables = self.tables
        if len(tables):
            lines.append(text_table(["table", "mode", "freshness", "rows", "on disk"],
                                    [[r[0], r[2], r[6], r[3], r[4]] for r in tables._rows()]))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        tables = self.tables
        rows = [[f"<code>{esc(t['id'])}</code>" + ("" if t.get("readable", True) else
                                                   " " + badge("no access", "not granted to your groups", "error")),
                 mode_badge(t.get("query_mode") or ""), freshness_html(t), esc(human_count(t.get("rows"))),
                 esc(human_bytes(t.get("size_bytes"))), esc(t.get("description") or "")] for t in tables]
        table_html = html_table(["table", "mode", "freshness", "rows", "on disk", "description"], rows,
                                raw_columns=frozenset(range(6))) if rows else "<p>No tables.</p>"
        return _card(self, table_html, full=True)


def _list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    head = f"<b>{esc(title)}</b>" if title else ""
    return (f'<div style="font-size:12px;margin-top:4px">{head}<ul style="margin:2px 0">'
            + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul></div>")


def _card(pkg: Package, tables_html: str | None = None, full: bool = False) -> str:
    """One package as an HTML card in the JupyterLab theme; every user-supplied text is escaped.
    ``tables_html`` replaces the one-line list of table ids (the single-package view)."""
    marks = [_lifecycle(pkg.lifecycle)]
    if pkg.get("curated"):
        marks.append(badge("curated", "created by an Agnes admin"))
    if pkg.get("new"):
        marks.append(badge("new", "created in the last 30 days"))
    if pkg.requirement == "required":
        marks.append(badge("required", "granted to your group as required: always in your stack"))
    elif pkg.in_stack:
        marks.append(badge("in my stack"))
    tags = " ".join(f"<code>#{esc(t)}</code>" for t in pkg.tags)
    meta = [f"owner: {esc(pkg.owner)}"] if pkg.owner else []
    if tags:
        meta.append(tags)
    if tables_html is None:
        listed = ", ".join(esc(t["id"]) + ("" if t.get("readable", True) else " (no access)")
                           for t in pkg.get("tables") or [])
        meta.insert(0, f"tables: {listed or '—'}")
    parts = [
        f'<div class="agnes-package" style="{border()};border-radius:8px;padding:8px 12px;margin:6px 0;'
        'max-width:720px">',
        f"<div><b>{esc(pkg.title)}</b> <code>{esc(pkg.slug)}</code> {' '.join(marks)}</div>",
        f'<div style="{muted()}">{esc(pkg.description)}</div>' if pkg.description else "",
    ]
    if full and pkg.long_description:
        parts.append(f'<div style="white-space:pre-wrap;margin-top:4px">{esc(pkg.long_description)}</div>')
    if meta:
        parts.append(f'<div style="font-size:12px;{muted()}">{" · ".join(meta)}</div>')
    if full:
        parts += [_list("Use it for", pkg.when_to_use), _list("Not for", pkg.when_not_to_use),
                  _list("Questions it answers", pkg.example_questions)]
    else:
        parts.append(_list("", pkg.example_questions[:3]))
    if tables_html is not None:
        parts.append(tables_html)
        if not pkg.in_stack:
            parts.append(f'<div style="font-size:12px;{muted()}">agnes.package({esc(repr(pkg.slug))})'
                         ".add_to_stack() adds it to your stack</div>")
    parts.append("</div>")
    return "".join(parts)


class PackageList(Collection[Package]):
    """Browse: the data packages you may see, as cards; ``packages["slug"]`` is one :class:`Package`."""

    noun = "package"
    key = "slug"
    headers = ("slug", "title", "lifecycle", "tables", "grant", "in stack")
    pandas_columns = ("slug", "title", "lifecycle", "description", "category", "owner", "tags", "tables",
                      "requirement", "in_stack")
    empty = "no data packages for you yet — an Agnes admin grants them to your groups"

    def __init__(self, packages: list[dict[str, Any]] | list[Package]) -> None:
        super().__init__([p if isinstance(p, Package) else Package(p) for p in packages])

    @property
    def packages(self) -> list[Package]:
        return self.items

    @property
    def slugs(self) -> list[str]:
        return self.ids

    def _record(self, p: Package) -> dict[str, Any]:
        return {"slug": p.slug, "title": p.title, "lifecycle": p.lifecycle, "description": p.description,
                "category": p.category, "owner": p.owner, "tags": p.tags, "tables": p.table_ids,
                "requirement": p.requirement, "in_stack": p.in_stack}

    def _row(self, p: Package) -> list[str]:
        return [p.slug, p.title, p.lifecycle, str(len(p.table_ids)), p.requirement or "",
                "yes" if p.in_stack else ""]

    def _html_body(self) -> str:
        heading = f'<div style="{muted()}">{esc(self._heading())}</div>'
        return heading + "".join(_card(p) for p in self.items)


class StackTables(Collection[dict[str, Any]]):
    """Tables in My Stack by themselves (subscribed, or granted to your groups as required)."""

    noun = "table"
    headers = ("id", "name", "mode", "why")
    empty = "no tables in your stack by themselves"

    def _row(self, t: dict[str, Any]) -> list[str]:
        return [t["id"], t.get("name") or t["id"], t.get("query_mode") or "",
                "required" if t.get("required") else "subscribed"]


def _why(item: dict[str, Any] | Package | Recipe) -> str:
    return "required" if item.get("requirement") == "required" else "subscribed"


class Stack(Collection[dict[str, Any]]):
    """My Stack: your subscriptions plus everything granted to you as required. Each item is
    ``{"kind", "id", "title", "why", "tables", "mode"}``; ``.packages``, ``.recipes`` and ``.tables`` are
    the three kinds as their own collections. An id shared by two kinds finds the package first."""

    noun = "stack item"
    headers = ("kind", "id", "title", "why", "tables")
    empty = "your stack is empty — agnes.add_to_stack('<package>') adds a package you may use"
    pandas_columns = ("kind", "id", "title", "why", "tables", "mode")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.packages = PackageList(payload["packages"])
        self.recipes = RecipeList(payload["recipes"])
        self.tables = StackTables(payload["tables"])
        items: list[dict[str, Any]] = [
            {"kind": "package", "id": p.slug, "title": p.title, "why": _why(p), "tables": p.table_ids, "mode": None}
            for p in self.packages]
        items += [{"kind": "recipe", "id": r.slug, "title": r.title, "why": _why(r), "tables": r.tables,
                   "mode": r.mode} for r in self.recipes]
        items += [{"kind": "table", "id": t["id"], "title": t.get("name") or t["id"],
                   "why": "required" if t.get("required") else "subscribed", "tables": [t["id"]],
                   "mode": t.get("query_mode")} for t in self.tables]
        super().__init__(items)

    def _heading(self) -> str:
        return f"My Stack: {len(self.packages)} package(s), {len(self.recipes)} recipe(s), {len(self.tables)} table(s)"

    def _html_heading(self) -> str:
        return self._heading().replace(":", " —", 1)

    def _row(self, item: dict[str, Any]) -> list[str]:
        tables = item["mode"] if item["kind"] == "table" else ", ".join(item["tables"])
        return [item["kind"], item["id"], item["title"], item["why"], tables or ""]

    def _html_rows(self) -> list[list[str]]:
        return [[esc(r[0]), f"<code>{esc(r[1])}</code>", esc(r[2]), badge(r[3]), esc(r[4])] for r in self._rows()]


def packages() -> PackageList:
    return PackageList(_client().get("packages")["packages"])


def package(slug: str) -> Package:
    return Package(_client().get(f"packages/{quote(slug, safe='')}"))


def stack() -> Stack:
    return Stack(_client().get("stack"))


def _kind(kind: str) -> str:
    kinds = {"package": "packages", "recipe": "recipes", "table": "tables"}
    return kinds.get(kind, kind)


def add_to_stack(item: str, kind: str = "package") -> Stack:
    return Stack(_client().put(f"stack/{_kind(kind)}/{quote(item, safe='')}"))


def remove_from_stack(item: str, kind: str = "package") -> None:
    _client().delete(f"stack/{_kind(kind)}/{quote(item, safe='')}")


# -- recipes ---------------------------------------------------------------------------------------


class InsertedCell:
    """What ``Recipe.insert()`` returns: shown as one line saying what was inserted; ``.text`` (and
    ``str()``) is the cell's text."""

    def __init__(self, slug: str, text: str, placed: bool) -> None:
        self.slug = slug
        self.text = text
        self.placed = placed

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        if self.placed:
            return f"inserted a cell below running recipe {self.slug!r}"
        return f"the cell running recipe {self.slug!r} (not in a notebook: copy it from .text)"


class Recipe:
    """A parameterised SQL template. ``render(**params)`` gives the SQL (the server binds each value
    as a typed literal); ``insert(**params)`` puts a ready-to-run cell after the current one.
    ``to_dict()`` is the raw payload, and ``recipe["field"]`` reads a field of it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.slug: str = data["slug"]
        self.title: str = data["title"]
        self.parameters: list[dict[str, Any]] = data["parameters"]
        self.mode: str = data["mode"]

    @property
    def description(self) -> str:
        return str(self.data.get("description") or "")

    @property
    def sql(self) -> str:
        return str(self.data.get("sql") or "")

    @property
    def tables(self) -> list[str]:
        return list(self.data.get("tables") or [])

    @property
    def requirement(self) -> str | None:
        return self.data.get("requirement")

    @property
    def in_stack(self) -> bool:
        return bool(self.data.get("in_stack"))

    @property
    def runnable(self) -> bool:
        """Whether you may read every table the recipe uses."""
        return bool(self.data.get("runnable", True))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    def __getitem__(self, field: str) -> Any:
        return self.data[field]

    def get(self, field: str, default: Any = None) -> Any:
        return self.data.get(field, default)

    def add_to_stack(self) -> Stack:
        stack = add_to_stack(self.slug, "recipe")
        self.data["in_stack"] = True
        return stack

    def remove_from_stack(self) -> None:
        remove_from_stack(self.slug, "recipe")
        self.data["in_stack"] = self.requirement == "required"

    def render(self, **params: Any) -> str:
        return str(self._rendered(params)["sql"])

    def _rendered(self, params: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        values = {k: v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v for k, v in params.items()}
        return dict(_client().post(f"recipes/{quote(self.slug, safe='')}/render", {"params": values}))

    def cell(self, **params: Any) -> str:
        """The text of a notebook cell that runs this recipe with these values."""
        return str(self._rendered(params)["cell"])  # built by the server: one text for the panel too

    def insert(self, **params: Any) -> InsertedCell:
        """Place the recipe's cell after the current one (JupyterLab and Notebook). The value shows
        as one line saying so; ``.text`` is the cell. Outside IPython the cell's text is printed."""
        text = self.cell(**params)
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            print(text)
        else:
            shell.set_next_input(text, replace=False)
        return InsertedCell(self.slug, text, placed=shell is not None)

    def _param_rows(self) -> list[list[str]]:
        return [[p["name"], p["type"], "required" if p.get("required") else repr(p.get("default")),
                 ", ".join(map(str, p.get("choices") or [])), p.get("description") or ""] for p in self.parameters]

    def __repr__(self) -> str:
        head = f"recipe {self.slug!r}: {self.title} ({self.mode}; tables {', '.join(self.tables)})"
        if not self.parameters:
            return head
        return head + "\n" + text_table(["parameter", "type", "default", "choices", "description"],
                                        self._param_rows())

    def _repr_html_(self) -> str:
        params = html_table(["parameter", "type", "default", "choices", "description"], self._param_rows()) \
            if self.parameters else "<p>No parameters.</p>"
        access = "" if self.runnable else " " + badge("missing access", "you may not read every table it uses",
                                                      tone="error")
        return (f'<div class="agnes-recipe"><b>{esc(self.title)}</b> <code>{esc(self.slug)}</code> '
                f"{badge(self.mode)}{access}"
                f'<div style="{muted()}">{esc(self.description)}</div>'
                f'<pre style="font-size:12px;{border()};border-radius:4px;padding:4px 8px">{esc(self.sql)}</pre>'
                f"{params}"
                f'<div style="font-size:12px;{muted()}">agnes.recipe({esc(repr(self.slug))}).insert(...) adds a '
                "cell that runs it</div></div>")


class RecipeList(Collection[Recipe]):
    """The recipes you may use; ``recipes["slug"]`` is one :class:`Recipe`."""

    noun = "recipe"
    key = "slug"
    headers = ("slug", "title", "mode", "parameters", "tables", "access")
    pandas_columns = ("slug", "title", "mode", "description", "parameters", "tables", "requirement", "in_stack",
                      "runnable")
    empty = "no recipes for you yet"

    def __init__(self, recipes: list[dict[str, Any]] | list[Recipe]) -> None:
        super().__init__([r if isinstance(r, Recipe) else Recipe(r) for r in recipes])

    @property
    def recipes(self) -> list[Recipe]:
        return self.items

    @property
    def slugs(self) -> list[str]:
        return self.ids

    def _record(self, r: Recipe) -> dict[str, Any]:
        return {"slug": r.slug, "title": r.title, "mode": r.mode, "description": r.description,
                "parameters": [p["name"] for p in r.parameters], "tables": r.tables,
                "requirement": r.requirement, "in_stack": r.in_stack, "runnable": r.runnable}

    def _row(self, r: Recipe) -> list[str]:
        return [r.slug, r.title, r.mode, ", ".join(p["name"] for p in r.parameters), ", ".join(r.tables),
                "" if r.runnable else "missing access"]

    def _html_rows(self) -> list[list[str]]:
        return [[f"<code>{esc(r.slug)}</code>", esc(r.title), badge(r.mode),
                 esc(", ".join(p["name"] for p in r.parameters)), esc(", ".join(r.tables)),
                 "" if r.runnable else badge("missing access", "you may not read every table it uses", tone="error")]
                for r in self.items]


def recipes() -> RecipeList:
    return RecipeList(_client().get("recipes")["recipes"])


def recipe(slug: str) -> Recipe:
    return Recipe(_client().get(f"recipes/{quote(slug, safe='')}"))
