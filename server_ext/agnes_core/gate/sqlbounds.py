"""Bounds on what one query may cost the server before and while it runs.

Checking: the text is refused above a size, the parser above a nesting depth (it recurses on
every level), the tree above a node count and a depth (name resolution walks ancestors, so a
deep tree costs depth × nodes). Long AND/OR chains — which a parser builds one level deep per
term — are balanced first, so 2,000 ORs are a tree 11 levels deep, not 2,000.

Running: a value a query builds from literal counts (``repeat('x', 1e9)``, ``lpad(x, 1e9)``)
or from many copies of its inputs (``c || c || …``) is allocated by the engine outside its
memory limit (DuckDB's string functions are not tracked by ``memory_limit``: measured 5.8 GB
of RSS for one ``repeat('x', 1e9)`` under a 256 MB limit). So every expression gets an upper
bound ``a·U + b`` on the size of its value — ``U`` the largest value it reads (a column, a
subquery, an aggregate, which the engine's memory limit does track), ``a`` how many copies of
it the expression can hold, ``b`` the bytes it can add by itself — and the query is refused
when ``a`` or ``b`` is too large. Counts that come from data (``repeat('*', n)``) are guarded
at run time: the count is checked against the limit before the function runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class SqlLimits:
    """What a scan's SQL may cost to check and may build (``AgnesApp`` sets the first)."""

    max_bytes: int = 128 * KIB
    max_tokens: int = 100_000
    #: Parentheses and CASE…END nested in the text (sqlglot's parser recurses on each level;
    #: Python's default recursion limit ends it near 60).
    max_nesting: int = 40
    #: Depth of the tree after long AND/OR chains are balanced.
    max_depth: int = 200
    max_nodes: int = 120_000
    #: Tables and CTEs a query may name (each costs name resolution and column qualification).
    max_relations: int = 256
    #: The largest value an expression may build from literal counts and literals. DuckDB computes
    #: 2,048 rows at a time, outside its memory limit for string functions, and keeps memory after
    #: streaming large values (measured: 2 GB of 16 KB values left 1.2 GB of RSS; of 1 KB values,
    #: 0.2 GB): 16 KiB a value.
    max_value_bytes: int = 16 * KIB
    #: How many copies of its inputs one expression may concatenate.
    max_fanout: int = 64


DEFAULT_LIMITS = SqlLimits()
#: AND/OR chains longer than this are balanced (shorter ones keep the author's order).
BALANCE_FROM = 32


class TooComplex(Exception):
    """The query exceeds one of the limits; ``kind`` is the validator's rejection kind."""

    def __init__(self, kind: str, message: str, fragment: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.fragment = fragment


def check_text(sql: str, limits: SqlLimits) -> None:
    """Size and characters, before anything else reads the text (C speed: one encode)."""
    try:
        size = len(sql.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise TooComplex("parse_error", f"the query contains an unpaired surrogate at character {exc.start} "
                         "(not valid Unicode text)") from None
    if size > limits.max_bytes:
        raise TooComplex("query_too_long", f"the query is {size:,} bytes; the limit is {limits.max_bytes:,} bytes")
    if "\x00" in sql:
        raise TooComplex("parse_error", f"the query contains a NUL character at character {sql.index(chr(0))}")


def tokenize(sql: str, dialect: str, limits: SqlLimits) -> list[Token]:
    """The dialect's tokens, refused above the token and nesting limits."""
    tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    if len(tokens) > limits.max_tokens:
        raise TooComplex("query_too_complex",
                         f"the query has {len(tokens):,} tokens; the limit is {limits.max_tokens:,}")
    depth = deepest = 0
    for token in tokens:
        if token.token_type in (TokenType.L_PAREN, TokenType.CASE, TokenType.L_BRACKET):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limits.max_nesting:
                    raise TooComplex(
                        "query_too_complex",
                        f"the query nests parentheses or CASE more than {limits.max_nesting} levels deep "
                        f"(at line {token.line}, column {token.col})",
                        fragment=sql[max(0, token.start - 40): token.end + 1])
        elif token.token_type in (TokenType.R_PAREN, TokenType.END, TokenType.R_BRACKET):
            depth = max(0, depth - 1)
    return tokens


def balance_chains(tree: exp.Expr) -> exp.Expr:
    """Rebuild AND/OR chains of more than ``BALANCE_FROM`` terms as balanced trees (in place;
    AND and OR are associative in SQL's three-valued logic, and engines promise no order)."""
    roots = [n for n in tree.walk() if isinstance(n, exp.Connector) and type(n.parent) is not type(n)]
    for root in roots:
        kind = type(root)
        terms: list[exp.Expr] = []
        stack: list[exp.Expr] = [root]
        while stack:  # iterative: the chain may be thousands deep
            node = stack.pop()
            if type(node) is kind:
                stack.append(node.args["expression"])
                stack.append(node.this)
            else:
                terms.append(node)
        if len(terms) <= BALANCE_FROM:
            continue
        for term in terms:
            term.pop()
        balanced = _balanced(kind, terms)
        if root is tree:
            tree = balanced
        else:
            root.replace(balanced)
    return tree


def _balanced(kind: type[exp.Connector], terms: list[exp.Expr]) -> exp.Expr:
    level = terms
    while len(level) > 1:
        level = [kind(this=level[i], expression=level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


def check_shape(tree: exp.Expr, limits: SqlLimits) -> None:
    """Node count, depth and the number of relations named, measured without recursion."""
    nodes = relations = 0
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise TooComplex("query_too_complex", f"the query has more than {limits.max_nodes:,} syntax nodes")
        if isinstance(node, (exp.Table, exp.CTE)):
            relations += 1
            if relations > limits.max_relations:
                raise TooComplex("query_too_complex",
                                 f"the query names more than {limits.max_relations} tables and CTEs",
                                 fragment=_short(node))
        if depth > limits.max_depth:
            raise TooComplex("query_too_complex",
                             f"the query nests expressions more than {limits.max_depth} levels deep",
                             fragment=_short(node))
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _short(node: exp.Expr, limit: int = 200) -> str:
    try:
        text = node.sql()
    except Exception:  # noqa: BLE001 - only for a message
        return type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- value sizes --------------------------------------------------------------------------------

#: (copies of the largest input value, bytes added) — see the module docstring.
Bound = tuple[int, int]
_INPUT: Bound = (1, 0)
_SCALAR: Bound = (0, 32)
_BOOL: Bound = (0, 8)
#: Nodes whose value is data the engine read or aggregated (its memory limit tracks aggregates).
_INPUT_NODES: tuple[type[exp.Expr], ...] = (exp.Column, exp.Star, exp.Query, exp.Subquery, exp.AggFunc,
                                            exp.Window, exp.Placeholder)
_BOOL_NODES: tuple[type[exp.Expr], ...] = (exp.Predicate, exp.Connector, exp.Not, exp.Exists, exp.Is, exp.In,
                                           exp.Between, exp.Boolean)
_NUMERIC_NODES: tuple[type[exp.Expr], ...] = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg,
                                              exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot,
                                              exp.BitwiseLeftShift, exp.BitwiseRightShift, exp.Pow)
#: Clauses and other structure: they hold no value of their own.
_STRUCTURE_NODES: tuple[type[exp.Expr], ...] = (exp.With, exp.CTE, exp.From, exp.Join, exp.Where, exp.Having,
                                               exp.Group, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Qualify,
                                               exp.TableAlias, exp.Table, exp.Lateral, exp.WindowSpec)
#: Nodes that pick one of their values (CASE, COALESCE…): the largest, not the sum.
_CHOICE_NODES: tuple[type[exp.Expr], ...] = (exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least)


@dataclass
class Guard:
    """A count that comes from data, checked at run time: ``node.args[arg]`` must stay at or below
    ``limit`` (``per`` set: ``count × size(per)`` must)."""

    node: exp.Expr
    arg: str
    limit: int
    what: str
    per: exp.Expr | None = None


def value_bounds(tree: exp.Expr, limits: SqlLimits, bounds: dict[int, Bound] | None = None) -> list[Guard]:
    """Refuse expressions that can build values above the limits; return the run-time guards
    that counts taken from data need (``bounds``, when given, receives every node's bound)."""
    bounds = {} if bounds is None else bounds
    guards: list[Guard] = []
    for node in reversed(list(tree.walk(bfs=False))):  # children before their parents
        bound = _bound(node, bounds, guards, limits)
        copies, extra = bound
        if copies > limits.max_fanout:
            raise TooComplex("value_too_large",
                             f"this expression can hold {copies} copies of its input values (the limit is "
                             f"{limits.max_fanout})", fragment=_short(node))
        if extra > limits.max_value_bytes:
            raise TooComplex("value_too_large",
                             f"this expression can build a value of {extra:,} bytes (the limit is "
                             f"{limits.max_value_bytes:,})", fragment=_short(node))
        bounds[id(node)] = bound
    return guards


def row_bound(tree: exp.Expr, limits: SqlLimits) -> Bound:
    """An upper bound on one result row: the sum of its columns' bounds (the outermost SELECT's;
    the first branch of a set operation), in the same terms as :func:`value_bounds`."""
    bounds: dict[int, Bound] = {}
    value_bounds(tree, limits, bounds)
    select: exp.Expr | None = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    while isinstance(select, exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return (1, 0)
    copies = extra = 0
    for column in select.expressions:
        a, b = bounds.get(id(column), (1, 0))
        copies, extra = copies + max(a, 1 if isinstance(column.unalias(), exp.Star) else a), extra + b
    return (copies, extra)


def _literal_int(node: exp.Expr | None) -> int | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return max(0, int(float(node.this)))
        except ValueError:
            return None
    if isinstance(node, exp.Neg) and _literal_int(node.this) is not None:
        return 0
    return None


def _bound(node: exp.Expr, bounds: dict[int, Bound], guards: list[Guard], limits: SqlLimits) -> Bound:
    def of(child: exp.Expr | None) -> Bound:
        return bounds.get(id(child), (0, 0)) if child is not None else (0, 0)

    if isinstance(node, exp.Literal):
        return (0, len(str(node.this).encode("utf-8", "replace"))) if node.is_string else _SCALAR
    if isinstance(node, exp.Null):
        return (0, 0)
    if isinstance(node, _INPUT_NODES):
        return _INPUT
    if isinstance(node, _STRUCTURE_NODES):
        return (0, 0)
    if isinstance(node, _BOOL_NODES):
        return _BOOL
    if isinstance(node, _NUMERIC_NODES):
        return _SCALAR
    if isinstance(node, exp.Repeat):
        times = _literal_int(node.args.get("times"))
        a, b = of(node.this)
        if times is not None:
            return (a * times, b * times)
        each = limits.max_value_bytes // 4  # a few guarded pieces may still be joined
        guards.append(Guard(node, "times", each, f"repeat() would build a value larger than {each:,} bytes",
                            per=node.this))
        return (0, each)
    if isinstance(node, exp.Pad):
        length = _literal_int(node.args.get("expression"))
        if length is not None:
            return (0, 4 * length)  # characters of up to 4 bytes
        chars = limits.max_value_bytes // 16
        guards.append(Guard(node, "expression", chars,
                            f"{'lpad' if node.args.get('is_left') else 'rpad'}() would build a value longer than "
                            f"{chars:,} characters"))
        return (0, chars * 4)
    if isinstance(node, (exp.Replace, exp.RegexpReplace)):
        a_s, b_s = of(node.this)
        a_r, b_r = of(node.args.get("replacement"))
        if a_s and a_r:
            raise TooComplex("value_too_large", "a replacement taken from data, applied to data, can build values "
                             "of any size; use a literal replacement", fragment=_short(node))
        grow = max(1, b_r)
        return (a_s * grow + b_s * a_r, b_s * grow)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        a, b = of(node.this)
        return (a, b + 64)
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        return _largest([of(b) for b in branches])
    if isinstance(node, exp.If):
        return _largest([of(node.args.get("true")), of(node.args.get("false"))])
    if isinstance(node, _CHOICE_NODES):
        return _largest([of(c) for c in node.iter_expressions()])
    if isinstance(node, (exp.Identifier, exp.DataType, exp.Var)):
        return (0, 0)
    total_a = total_b = 0
    for child in node.iter_expressions():
        a, b = of(child)
        total_a += a
        total_b += b
    return (total_a, total_b)


def _largest(items: list[Bound]) -> Bound:
    return (max((a for a, _ in items), default=0), max((b for _, b in items), default=0))


#: The prefix of the message a guard fails with (connectors recognise it in engine errors).
GUARD_MARK = "agnes: "


def apply_guards(guards: list[Guard], dialect: str) -> None:
    """Wrap each guarded count (in place) so the engine stops with ``agnes: …`` before it
    builds the value."""
    if not guards:
        return
    from agnes_core.connectors import guards_for  # how the dialect stops a query and measures a value: its connector's

    naming = guards_for(dialect)
    if naming is None:
        raise TooComplex("value_too_large", f"counts taken from data cannot be checked in {dialect} SQL; use a "
                         "literal count", fragment=_short(guards[0].node))
    checked, size_of = naming.fail_if, naming.byte_length
    for guard in guards:
        count = guard.node.args.get(guard.arg)
        if count is None:
            continue
        over: exp.Expr
        if guard.per is not None:
            over = exp.GT(this=exp.Mul(this=exp.Paren(this=count.copy()),
                                       expression=exp.func("GREATEST", exp.Literal.number(1),
                                                           size_of(guard.per.copy()))),
                          expression=exp.Literal.number(guard.limit))
        else:
            over = exp.GT(this=exp.Paren(this=count.copy()), expression=exp.Literal.number(guard.limit))
        guard.node.set(guard.arg, checked(over, count.copy(), GUARD_MARK + guard.what))
