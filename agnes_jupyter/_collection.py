"""The one base every list the kernel shows shares: the catalog, packages, recipes, My Stack,
snapshots and admin records all have ``len``, iteration, indexing by position and by id,
``ids``, ``to_pandas()``, a text repr and an HTML repr in the JupyterLab theme."""

from __future__ import annotations

import difflib
import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from ._display import esc, html_table, muted, text_table
from .errors import NotFound

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


class NotInCollection(NotFound, KeyError):
    """No item with that id in a collection; the message names the closest ids there are.

    A :class:`KeyError` (what ``collection[key]`` raises in Python) and an :class:`AgnesError`
    (one line and a hint in a notebook, never a traceback)."""

    def __init__(self, noun: str, key: str, ids: list[str]) -> None:
        close = difflib.get_close_matches(key, ids, n=3, cutoff=0.6)
        if not close:
            lowered = key.lower()
            close = [i for i in ids if lowered and (lowered in i.lower() or i.lower() in lowered)][:3]
        message = f"no {noun} {key!r} here"
        if close:
            message += " — did you mean " + " or ".join(repr(c) for c in close) + "?"
        if not ids:
            hint = f"There are no {noun}s here."
        elif len(ids) <= 8:
            hint = f"The {noun}s here: {', '.join(ids)}."
        else:
            hint = f".ids lists the {len(ids)} {noun}s here."
        super().__init__(message, hint=hint, details={"key": key, "suggestions": close})
        self.key = key
        self.suggestions = close


class Collection(Generic[T]):
    """A list of items (dicts or objects) that each have an id.

    Subclasses set the class attributes and override the hooks they need:

    ``noun``
        what one item is called ("table", "package", ...), used in headings and errors.
    ``key``
        the field (dict key or attribute) that is an item's id: ``collection[id]`` finds it.
    ``headers`` / ``_rows()``
        the columns of the text and HTML tables and the text cells of every row
        (by default, the item's fields named by ``headers``).
    ``html_headers`` / ``_html_rows()``
        the HTML table's column titles (default ``headers``) and its cells, each escaped by whoever
        builds it (default: the escaped text cells).
    ``_heading()`` / ``_html_heading()``
        the line above the text table and the HTML caption (default: "3 table(s)").
    ``empty``
        what the repr says when there are no items.
    ``pandas_columns`` / ``_record(item)`` / ``_empty_columns()``
        the columns of :meth:`to_pandas` (default: every field of every item, and those of
        ``_empty_columns()`` when there are none).
    """

    noun: ClassVar[str] = "item"
    key: ClassVar[str] = "id"
    headers: ClassVar[tuple[str, ...]] = ()
    html_headers: ClassVar[tuple[str, ...] | None] = None
    empty: ClassVar[str] = ""
    pandas_columns: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, items: Iterable[T]) -> None:
        # The list itself, not a copy: subclasses keep their historical attribute names
        # (``tables``, ``metas``) pointing at the same list.
        self.items: list[T] = items if isinstance(items, list) else list(items)

    # -- ids and lookup ----------------------------------------------------------------------------

    def _id(self, item: T) -> str:
        value = item.get(self.key) if isinstance(item, Mapping) else getattr(item, self.key, None)
        return "" if value is None else str(value)

    @property
    def ids(self) -> list[str]:
        """The id of every item, in order."""
        return [self._id(item) for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    @overload
    def __getitem__(self, key: str) -> T: ...
    @overload
    def __getitem__(self, key: int) -> T: ...
    @overload
    def __getitem__(self, key: slice) -> list[T]: ...

    def __getitem__(self, key: str | int | slice) -> T | list[T]:
        """``c["id"]`` by id (a :class:`KeyError` naming close ids when absent), ``c[0]`` by
        position, ``c[:3]`` a list of the first three."""
        if isinstance(key, str):
            for item in self.items:
                if self._id(item) == key:
                    return item
            raise NotInCollection(self.noun, key, self.ids)
        if isinstance(key, slice):
            return self.items[key]
        return self.items[operator.index(key)]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self.ids
        return any(item is key or item == key for item in self.items)

    def get(self, key: str, default: T | None = None) -> T | None:
        """The item with id ``key``, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    # -- pandas ------------------------------------------------------------------------------------

    def _record(self, item: T) -> dict[str, Any]:
        if isinstance(item, Mapping):
            return dict(item)
        to_dict = getattr(item, "to_dict", None)
        if callable(to_dict):
            return dict(to_dict())
        return {self.key: self._id(item)}

    def to_pandas(self) -> pd.DataFrame:
        """One row per item; the columns are the same whether or not the list is empty."""
        import pandas as pd

        records = [self._record(item) for item in self.items]
        columns = list(self.pandas_columns) if self.pandas_columns is not None else None
        if columns is None and not records:
            columns = self._empty_columns()
        if columns is not None:
            records = [{c: r.get(c) for c in columns} for r in records]
        return pd.DataFrame(records, columns=columns)

    def _empty_columns(self) -> list[str]:
        """The columns of ``to_pandas()`` of an empty list when ``pandas_columns`` is not set."""
        return [self.key]

    # -- display -----------------------------------------------------------------------------------

    def _cell(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)

    def _row(self, item: T) -> list[str]:
        record = self._record(item)
        return [self._cell(record.get(h)) for h in self._headers()]

    def _headers(self) -> list[str]:
        return list(self.headers)

    def _rows(self) -> list[list[str]]:
        """The text cells of every row (also the HTML cells, escaped, unless ``_html_rows`` says)."""
        return [self._row(item) for item in self.items]

    def _html_rows(self) -> list[list[str]]:
        return [[esc(cell) for cell in row] for row in self._rows()]

    def _heading(self) -> str:
        return f"{len(self.items):,} {self.noun}(s)"

    def _html_heading(self) -> str:
        return self._heading()

    def _empty_text(self) -> str:
        return self.empty or f"no {self.noun}s"

    def __repr__(self) -> str:
        if not self.items:
            return self._empty_text()
        return self._heading() + "\n" + text_table(self._headers(), self._rows())

    def _html_body(self) -> str:
        headers = list(self.html_headers or self._headers())
        return html_table(headers, self._html_rows(), caption=self._html_heading(),
                          raw_columns=frozenset(range(len(headers))))

    def _repr_html_(self) -> str:
        if not self.items:
            return f'<p class="agnes-empty" style="{muted()}">{esc(self._empty_text())}</p>'
        return f'<div class="agnes-collection">{self._html_body()}</div>'
