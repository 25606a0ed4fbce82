"""The admin console in a notebook cell: ``agnes.admin.console()``.

JupyterLab renders ``application/vnd.agnes.admin-console+json`` with the Agnes extension's
console (the same screens as the *Agnes Admin* view). Front ends without the extension (nbconvert,
GitHub, nbval) get a plain-text and an HTML summary: how many sources, tables, groups and
packages the server holds. A non-admin gets the server's 403 as one line and its hint, as the
magics show errors, and no console.
"""

from __future__ import annotations

from typing import Any

from ._client import current
from ._display import esc
from .errors import AgnesError, ValidationError

MIME_TYPE = "application/vnd.agnes.admin-console+json"

#: The console's screens, in the order of its tabs (labextension/src/admin/AdminConsole.tsx).
SCREENS = ("sources", "tables", "access", "curation", "tokens", "settings", "audit", "metadata")

#: What the fallback counts: (label, admin route, key of the list in its answer).
_COUNTED = (("sources", "admin/sources", "sources"), ("tables", "admin/tables", "tables"),
            ("groups", "admin/groups", "groups"), ("packages", "admin/packages", "packages"))


class AdminConsole:
    """A displayable handle on the admin console; ``screen`` is the tab it opens on."""

    def __init__(self, screen: str | None = None) -> None:
        if screen is not None and screen not in SCREENS:
            raise ValidationError(f"the admin console has no screen {screen!r}",
                                  hint=f"screen is one of {', '.join(SCREENS)} (or None for sources)",
                                  details={"field": "screen"})
        self.screen = screen

    def counts(self) -> dict[str, int]:
        """How many sources, tables, groups and packages there are (admin routes: 403 for others)."""
        client = current()
        return {label: len(client.get(path)[key]) for label, path, key in _COUNTED}

    def _summary(self, counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {label if n != 1 else label[:-1]}" for label, n in counts.items())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        try:
            counts = self.counts()
        except AgnesError as exc:
            line = f"{type(exc).__name__}: {exc.message}"
            text = f"{line}\nhint: {exc.hint}" if exc.hint else line
            hint = f'<div class="agnes-hint">hint: {esc(exc.hint)}</div>' if exc.hint else ""
            return {"text/plain": text,
                    "text/html": f'<div class="agnes-error"><b>{esc(type(exc).__name__)}</b>: {esc(exc.message)}'
                                 f"{hint}</div>"}
        summary = self._summary(counts)
        where = f" (screen: {self.screen})" if self.screen else ""
        text = (f"Agnes admin console{where}: {summary}.\n"
                "Open it in JupyterLab with the Agnes extension, or from the Agnes menu > Admin Console.")
        items = "".join(f"<li>{esc(label)}: {n:,}</li>" for label, n in counts.items())
        html_text = (f'<div class="agnes-admin-console-fallback"><b>Agnes admin console</b>{esc(where)}'
                     f"<ul>{items}</ul><small>The console itself renders in JupyterLab with the Agnes "
                     "extension (Agnes menu &gt; Admin Console).</small></div>")
        return {MIME_TYPE: {"screen": self.screen}, "text/plain": text, "text/html": html_text}

    def __repr__(self) -> str:
        return f"<agnes admin console{f' ({self.screen})' if self.screen else ''}>"


def console(screen: str | None = None) -> AdminConsole:
    """The admin console in a cell, opened on ``screen`` (one of :data:`SCREENS`; default sources)."""
    return AdminConsole(screen)
