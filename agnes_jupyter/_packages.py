"""Data packages, My Stack and recipes in the kernel: Browse as cards, the stack as a list, and
recipes rendered by the server (values become typed SQL literals there) into a runnable cell."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ._display import badge, esc, html_table, human_count, text_table

LIFECYCLE_COLOURS = {"prod": "#1a7f37", "poc": "#9a6700", "coming-soon": "#0969da", "draft": "#6e7781"}


def _client() -> Any:
    import agnes_jupyter

    return agnes_jupyter.client()


def _lifecycle(value: str) -> str:
    colour = LIFECYCLE_COLOURS.get(value, "#6e7781")
    return (f'<span style="background:{colour};color:#fff;border-radius:8px;padding:0 6px;'
            f'font-size:11px">{esc(value)}</span>')


def _card(pkg: dict[str, Any]) -> str:
    """One package as an HTML card; every user-supplied text is escaped."""
    marks = [_lifecycle(pkg["lifecycle"])]
    if pkg.get("curated"):
        marks.append(badge("curated", "created by an Agnes admin"))
    if pkg.get("new"):
        marks.append(badge("new", "created in the last 30 days"))
    if pkg.get("requirement") == "required":
        marks.append(badge("required", "granted to your group as required: always in your stack"))
    elif pkg.get("in_stack"):
        marks.append(badge("in my stack"))
    tables = ", ".join(esc(t["id"]) + ("" if t.get("readable", True) else " (no access)") for t in pkg["tables"])
    tags = " ".join(f'<code>#{esc(t)}</code>' for t in pkg.get("tags", []))
    owner = " · ".join(esc(x) for x in (pkg.get("owner_name"), pkg.get("owner_team")) if x)
    questions = "".join(f"<li>{esc(q)}</li>" for q in pkg.get("example_questions", [])[:3])
    return (
        '<div style="border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;margin:6px 0;max-width:720px">'
        f'<div><b>{esc(pkg["title"])}</b> <code>{esc(pkg["slug"])}</code> {" ".join(marks)}</div>'
        f'<div style="color:#57606a">{esc(pkg.get("description") or "")}</div>'
        f'<div style="font-size:12px">tables: {tables or "—"}'
        + (f" · owner: {owner}" if owner else "") + (f" · {tags}" if tags else "") + "</div>"
        + (f'<ul style="font-size:12px;margin:4px 0">{questions}</ul>' if questions else "")
        + "</div>")


class PackageList:
    """Browse: the data packages you may see."""

    def __init__(self, packages: list[dict[str, Any]]) -> None:
        self.packages = packages

    def __len__(self) -> int:
        return len(self.packages)

    def __iter__(self) -> Any:
        return iter(self.packages)

    def __getitem__(self, slug: str) -> dict[str, Any]:
        for pkg in self.packages:
            if pkg["slug"] == slug:
                return pkg
        raise KeyError(slug)

    @property
    def slugs(self) -> list[str]:
        return [p["slug"] for p in self.packages]

    def _rows(self) -> list[list[str]]:
        return [[p["slug"], p["title"], p["lifecycle"], str(len(p["tables"])),
                 p.get("requirement") or "", "yes" if p.get("in_stack") else ""] for p in self.packages]

    def __repr__(self) -> str:
        if not self.packages:
            return "no data packages for you yet — an Agnes admin grants them to your groups"
        return text_table(["slug", "title", "lifecycle", "tables", "grant", "in stack"], self._rows())

    def _repr_html_(self) -> str:
        if not self.packages:
            return "<p>No data packages for you yet — an Agnes admin grants them to your groups.</p>"
        return "".join(_card(p) for p in self.packages)


class Stack:
    """My Stack: your subscriptions plus everything granted to you as required."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.packages = payload["packages"]
        self.recipes = payload["recipes"]
        self.tables = payload["tables"]

    def _rows(self) -> list[list[str]]:
        rows = [["package", p["slug"], p["title"], "required" if p.get("requirement") == "required" else "subscribed",
                 ", ".join(t["id"] for t in p["tables"])] for p in self.packages]
        rows += [["recipe", r["slug"], r["title"], "required" if r.get("requirement") == "required" else "subscribed",
                  ", ".join(r["tables"])] for r in self.recipes]
        rows += [["table", t["id"], t.get("name") or t["id"], "required" if t.get("required") else "subscribed",
                  t["query_mode"]] for t in self.tables]
        return rows

    def __repr__(self) -> str:
        if not self._rows():
            return "your stack is empty — agnes.add_to_stack('<package>') adds a package you may use"
        return text_table(["kind", "id", "title", "why", "tables"], self._rows())

    def _repr_html_(self) -> str:
        if not self._rows():
            return "<p>Your stack is empty — <code>agnes.add_to_stack('&lt;package&gt;')</code> adds one.</p>"
        return html_table(["kind", "id", "title", "why", "tables"], self._rows(), caption="My Stack")


def packages() -> PackageList:
    return PackageList(_client().get("packages")["packages"])


def package(slug: str) -> dict[str, Any]:
    return dict(_client().get(f"packages/{quote(slug, safe='')}"))


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


def _one_line(text: str) -> str:
    """``text`` with every line break, control and format character replaced by a space."""
    import unicodedata

    return "".join(" " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
                   else ch for ch in text)


class Recipe:
    """A parameterised SQL template. ``render(**params)`` gives the SQL (the server binds each value
    as a typed literal); ``insert(**params)`` puts a ready-to-run cell after the current one."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.slug: str = data["slug"]
        self.title: str = data["title"]
        self.parameters: list[dict[str, Any]] = data["parameters"]
        self.mode: str = data["mode"]

    def render(self, **params: Any) -> str:
        return str(self._rendered(params)["sql"])

    def _rendered(self, params: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        values = {k: v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v for k, v in params.items()}
        return dict(_client().post(f"recipes/{quote(self.slug, safe='')}/render", {"params": values}))

    def cell(self, **params: Any) -> str:
        """The text of a notebook cell that runs this recipe with these values."""
        out = self._rendered(params)
        shown = ", ".join(f"{k}={v!r}" for k, v in out["params"].items())
        # One comment line whatever the server sent: a line break in a title must not become code.
        header = _one_line(f"-- recipe {self.slug}: {self.title}" + (f" ({shown})" if shown else ""))
        if out["mode"] == "remote":
            name = re.sub(r"[^A-Za-z0-9_]", "_", self.slug)
            return f"%%agnes --remote --as {name}\n{header}\n{out['sql']}"
        return f"%%agnes\n{header}\n{out['sql']}"

    def insert(self, **params: Any) -> str:
        """Place the recipe's cell after the current one (JupyterLab and Notebook); returns its text."""
        text = self.cell(**params)
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            print(text)
        else:
            shell.set_next_input(text, replace=False)
        return text

    def _param_rows(self) -> list[list[str]]:
        return [[p["name"], p["type"], "required" if p.get("required") else repr(p.get("default")),
                 ", ".join(map(str, p.get("choices") or [])), p.get("description") or ""] for p in self.parameters]

    def __repr__(self) -> str:
        head = f"recipe {self.slug!r}: {self.title} ({self.mode}; tables {', '.join(self.data['tables'])})"
        if not self.parameters:
            return head
        return head + "\n" + text_table(["parameter", "type", "default", "choices", "description"],
                                        self._param_rows())

    def _repr_html_(self) -> str:
        params = html_table(["parameter", "type", "default", "choices", "description"], self._param_rows()) \
            if self.parameters else "<p>No parameters.</p>"
        return (f"<div><b>{esc(self.title)}</b> <code>{esc(self.slug)}</code> {badge(self.mode)}"
                f"<div style='color:#57606a'>{esc(self.data.get('description') or '')}</div>"
                f"<pre style='font-size:12px'>{esc(self.data['sql'])}</pre>{params}"
                f"<div style='font-size:12px'>agnes.recipe({esc(repr(self.slug))}).insert(...) adds a cell "
                "that runs it</div></div>")


class RecipeList:
    def __init__(self, recipes: list[dict[str, Any]]) -> None:
        self.recipes = recipes

    def __len__(self) -> int:
        return len(self.recipes)

    def __iter__(self) -> Any:
        return iter(self.recipes)

    @property
    def slugs(self) -> list[str]:
        return [r["slug"] for r in self.recipes]

    def _rows(self) -> list[list[str]]:
        return [[r["slug"], r["title"], r["mode"], ", ".join(p["name"] for p in r["parameters"]),
                 ", ".join(r["tables"]), "" if r.get("runnable", True) else "missing access"] for r in self.recipes]

    def __repr__(self) -> str:
        if not self.recipes:
            return "no recipes for you yet"
        return text_table(["slug", "title", "mode", "parameters", "tables", ""], self._rows())

    def _repr_html_(self) -> str:
        return html_table(["slug", "title", "mode", "parameters", "tables", ""], self._rows(),
                          caption=f"{human_count(len(self.recipes))} recipe(s)")


def recipes() -> RecipeList:
    return RecipeList(_client().get("recipes")["recipes"])


def recipe(slug: str) -> Recipe:
    return Recipe(_client().get(f"recipes/{quote(slug, safe='')}"))
