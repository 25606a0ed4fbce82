"""How the names in a query resolve — the way the engine that runs it resolves them.

A name in FROM is either a CTE visible where it stands or a relation the engine looks up in its
catalog. Getting that decision wrong is how a scan reads a table nobody granted (PostgreSQL folds
``CUSTOMERS_PII`` to ``customers_pii``, so ``WITH "CUSTOMERS_PII" AS (…) SELECT * FROM CUSTOMERS_PII``
reads the real table). So names are compared after the dialect's own identifier normalisation,
and the rewritten query leaves the engine no decision to make: every relation becomes a
qualified physical name, every CTE a generated name that exists nowhere else. If the analysis
here and the engine ever disagreed, the engine would find no relation of that name — never a
different table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

#: Generated CTE names in rewritten SQL (quoted, lower case: the same in every dialect).
CTE_PREFIX = "agnes_cte_"
CTE_NAME_RE = re.compile(rf"^{CTE_PREFIX}\d+$")


def normalized(ident: exp.Expr | str, dialect: str) -> str:
    """A name as the dialect compares it (PostgreSQL folds unquoted names to lower case and keeps
    quoted ones; DuckDB ignores case)."""
    node = exp.to_identifier(ident) if isinstance(ident, str) else ident
    if not isinstance(node, exp.Identifier):
        return str(getattr(node, "name", node))
    return str(Dialect.get_or_raise(dialect).normalize_identifier(node.copy()).name)


@dataclass
class Names:
    """Every ``exp.Table`` of a tree, classified: ``relations`` are looked up in the catalog,
    ``cte_refs`` maps a reference (by ``id``) to the CTE it reads."""

    relations: list[exp.Table] = field(default_factory=list)
    cte_refs: dict[int, exp.CTE] = field(default_factory=dict)
    ctes: list[exp.CTE] = field(default_factory=list)


def _cte_name(cte: exp.CTE, dialect: str) -> str:
    alias = cte.args.get("alias")
    ident = alias.this if isinstance(alias, exp.TableAlias) else None
    return normalized(ident, dialect) if isinstance(ident, exp.Identifier) else ""


class _Names:
    """Normalised CTE names per WITH, computed once per tree (a query may hold hundreds)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._by_with: dict[int, list[tuple[str, exp.CTE]]] = {}

    def ctes(self, with_: exp.With) -> list[tuple[str, exp.CTE]]:
        found = self._by_with.get(id(with_))
        if found is None:
            found = [(_cte_name(c, self.dialect), c) for c in with_.expressions if isinstance(c, exp.CTE)]
            self._by_with[id(with_)] = found
        return found


def visible_cte(table: exp.Table, dialect: str, names: _Names | None = None) -> exp.CTE | None:
    """The CTE a bare name in FROM reads, or None when it names a relation.

    The nearest enclosing WITH that defines the name wins. Inside a CTE's own body only the
    CTEs before it are visible — all of them (itself included) under WITH RECURSIVE."""
    if table.args.get("db") or table.args.get("catalog") or not isinstance(table.this, exp.Identifier):
        return None
    names = names or _Names(dialect)
    name = normalized(table.this, dialect)
    child: exp.Expr = table
    parent = table.parent
    while parent is not None:
        with_ = parent.args.get("with_") if isinstance(parent, exp.Expr) else None
        if isinstance(with_, exp.With) and child is not with_:
            for cte_name, cte in reversed(names.ctes(with_)):
                if cte_name == name:
                    return cte
        elif isinstance(parent, exp.With):
            ctes = names.ctes(parent)
            at = next((i for i, (_, c) in enumerate(ctes) if c is child), None)
            if at is not None:
                candidates = ctes if parent.args.get("recursive") else ctes[:at]
                for cte_name, cte in reversed(candidates):
                    if cte_name == name:
                        return cte
        # (Coming up from a WITH, its query is not checked again: ``child is not with_`` above.)
        child, parent = parent, parent.parent
    return None


def classify(tree: exp.Expr, dialect: str) -> Names:
    """Classify every table node of ``tree`` (nodes with a function instead of a name are
    relations too: the caller refuses them)."""
    names = Names(ctes=[c for c in tree.find_all(exp.CTE)])
    cache = _Names(dialect)
    for table in tree.find_all(exp.Table):
        cte = visible_cte(table, dialect, cache)
        if cte is None:
            names.relations.append(table)
        else:
            names.cte_refs[id(table)] = cte
    return names


def rename_ctes(tree: exp.Expr, dialect: str, start: int = 0) -> int:
    """Give every CTE of ``tree`` a generated, quoted name and point its references at it, in
    place. A reference keeps its old name as its alias, so ``monthly.total`` still resolves.
    Returns the next free number (for renaming another tree without clashes)."""
    names = classify(tree, dialect)
    new_names: dict[int, exp.Identifier] = {}
    n = start
    for cte in names.ctes:
        new_names[id(cte)] = exp.to_identifier(f"{CTE_PREFIX}{n}", quoted=True)
        n += 1
    for table in list(tree.find_all(exp.Table)):
        target = names.cte_refs.get(id(table))
        if target is None:
            continue
        if not table.alias:
            table.set("alias", exp.TableAlias(this=table.this.copy()))
        table.set("this", new_names[id(target)].copy())
    for cte in names.ctes:
        alias = cte.args.get("alias")
        if isinstance(alias, exp.TableAlias):
            alias.set("this", new_names[id(cte)].copy())
        else:
            cte.set("alias", exp.TableAlias(this=new_names[id(cte)].copy()))
    return n


def unverified_relations(tree: exp.Expr, dialect: str, allowed: set[tuple[str, str]]) -> list[str]:
    """What a rewritten query reads that it should not: anything but the ``allowed`` (schema,
    name) pairs and generated CTE names that resolve to their CTE. Empty when all is well."""
    problems = []
    cache = _Names(dialect)
    for table in tree.find_all(exp.Table):
        shown = table.sql(dialect=dialect)
        if not isinstance(table.this, exp.Identifier):
            problems.append(f"a table function: {shown}")
            continue
        if table.args.get("catalog"):
            problems.append(f"a relation in another catalog: {shown}")
            continue
        if table.args.get("db"):
            key = (normalized(table.args["db"], dialect), normalized(table.this, dialect))
            if key not in allowed:
                problems.append(f"a relation not granted for this scan: {shown}")
            continue
        cte = visible_cte(table, dialect, cache)
        if cte is None or not CTE_NAME_RE.match(table.name) or _cte_name(cte, dialect) != table.name:
            problems.append(f"an unqualified name that is not one of the query's CTEs: {shown}")
    return problems
