"""``browse()``: the data packages you may see as cards, filtered by lifecycle, tag and a search
text; a card's detail, *Add to My Stack* / *Remove* (a package granted to your group as required
cannot be removed, and the card says why), and *Sync* with a progress bar and the sync report.

The work is the kernel library's own: :mod:`agnes_jupyter._packages` for packages and the stack,
:func:`agnes_jupyter._sync.run_sync` (with a progress callback) for the sync."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import ipywidgets as w

from .._client import Client
from .._client import current as _client
from .._display import esc, human_bytes
from .._packages import Package, PackageList, _card, add_to_stack, package, packages, remove_from_stack
from .._sync import SyncReport, run_sync
from .._workspace import workspace
from ._common import STYLE, Fallback, error_html, error_of, error_text, in_background

ALL = "(all)"
REQUIRED_NOTE = ("required for your group: it stays in your stack (an Agnes admin granted it as required; "
                 "ask them to change the grant)")


class BrowseWidget(Fallback, w.VBox):
    """The package browser (see :func:`agnes_jupyter.widgets.browse`)."""

    def __init__(self) -> None:
        self._client: Client = _client()  # the default client, as agnes.add_to_stack() and agnes.sync() use
        self._lock = threading.Lock()
        self.packages = PackageList([])
        self.report: SyncReport | None = None
        self.error: dict[str, str] = {}
        self.selected: str | None = None
        self.search = w.Text(placeholder="search packages", description="", layout=w.Layout(width="220px"))
        self.lifecycle = w.Dropdown(options=[ALL], value=ALL, description="lifecycle",
                                    layout=w.Layout(width="210px"))
        self.tag = w.Dropdown(options=[ALL], value=ALL, description="tag", layout=w.Layout(width="210px"))
        self.sync_button = w.Button(description="Sync", icon="refresh", tooltip="Download My Stack into data/",
                                    button_style="primary")
        self.sync_button.add_class("jp-agnes-w-sync")
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="320px",
                                                                                      visibility="hidden"))
        self.progress.add_class("jp-agnes-w-progress")
        self.progress_text = w.HTML("")
        self.message = w.HTML("")
        self.message.add_class("jp-agnes-w-message")
        self.cards = w.VBox()
        self.detail = w.HTML("")
        self.detail.add_class("jp-agnes-w-detail")
        self.report_html = w.HTML("")
        self.report_html.add_class("jp-agnes-w-report")
        for control in (self.search, self.lifecycle, self.tag):
            control.observe(lambda _change: self._render_cards(), names="value")
        self.sync_button.on_click(lambda _b: self.sync())
        super().__init__([
            w.HTML(STYLE + '<b class="jp-agnes-w">Data packages</b>'),
            w.HBox([self.search, self.lifecycle, self.tag, self.sync_button]),
            w.HBox([self.progress, self.progress_text]),
            self.message, self.cards, self.report_html,
        ])
        self.add_class("jp-agnes-w")
        self.add_class("jp-agnes-w-browse")
        self.reload()

    # -- the model ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the packages (and whether each is in your stack) again."""
        try:
            self.packages = packages()
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._fail(exc)
            return
        lifecycles = sorted({p.lifecycle for p in self.packages if p.lifecycle})
        tags = sorted({tag for p in self.packages for tag in p.tags})
        with self.hold_trait_notifications():
            self.lifecycle.options = [ALL, *lifecycles]
            self.tag.options = [ALL, *tags]
        self._render_cards()

    @property
    def visible(self) -> list[Package]:
        """The packages the filters let through, in order."""
        text = self.search.value.strip().lower()
        out = []
        for p in self.packages:
            if self.lifecycle.value != ALL and p.lifecycle != self.lifecycle.value:
                continue
            if self.tag.value != ALL and self.tag.value not in p.tags:
                continue
            haystack = " ".join([p.slug, p.title, p.description, p.long_description, *p.tags]).lower()
            if text and text not in haystack:
                continue
            out.append(p)
        return out

    def package(self, slug: str) -> Package:
        for p in self.packages:
            if p.slug == slug:
                return p
        raise KeyError(slug)

    def add(self, slug: str) -> bool:
        """Add a package to My Stack; whether it worked (else the error shows in the widget)."""
        return self._stack_change(slug, lambda: add_to_stack(slug), "added to My Stack — Sync brings its tables")

    def remove(self, slug: str) -> bool:
        """Remove a package from My Stack; a required one stays, and the widget says why."""
        return self._stack_change(slug, lambda: remove_from_stack(slug), "removed from My Stack")

    def _stack_change(self, slug: str, call: Any, done: str) -> bool:
        self.error = {}
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._fail(exc)
            return False
        self.reload()
        self._show_message(f"{slug}: {done}")
        if self.selected == slug:
            self.show(slug)
        return True

    def show(self, slug: str | None) -> None:
        """The detail of one package under its card: its tables (with freshness), uses, questions
        (``None``, or the shown one's *Details* again, hides it)."""
        if slug is None:
            self.selected, self.detail.value = None, ""
            self._render_cards()
            return
        try:
            pkg = package(slug)
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._fail(exc)
            return
        self.selected = slug
        self.detail.value = f'<div class="jp-agnes-w-card" data-package="{esc(slug)}">{pkg._repr_html_()}</div>'
        self._render_cards()

    def sync(self) -> Future[SyncReport]:
        """Sync My Stack in the background: the progress bar follows it, then the report shows.
        A future of the :class:`SyncReport`."""
        self.error = {}
        self.message.value = ""
        self.report = None
        self.report_html.value = ""
        self.sync_button.disabled = True
        self.progress.value, self.progress.max = 0.0, 1.0
        self.progress.bar_style = ""
        self.progress.layout.visibility = "visible"
        self.progress_text.value = "planning…"

        def run() -> SyncReport:
            try:
                report = run_sync(self._client, workspace(), progress=self._on_progress)
            except Exception as exc:
                self.progress.bar_style = "danger"
                self.progress_text.value = ""
                self._fail(exc)
                raise
            finally:
                self.sync_button.disabled = False
            self.report = report
            self.progress.max = max(float(report.bytes_downloaded), 1.0)
            self.progress.value = self.progress.max
            self.progress.bar_style = "danger" if report.failed else "success"
            self.progress_text.value = esc(f"done: {human_bytes(report.bytes_downloaded)} downloaded")
            self.report_html.value = (f'<div class="jp-agnes-w-done" data-status='
                                      f'"{"failed" if report.failed else "succeeded"}">{report._repr_html_()}</div>')
            return report

        return in_background(run, "agnes-browse-sync")

    def _on_progress(self, phase: str, done: int, total: int | None, message: str) -> None:
        if total:
            self.progress.max = float(total)
            self.progress.value = float(min(done, total))
            self.progress_text.value = esc(f"{phase}: {human_bytes(done)} of {human_bytes(total)}")
        else:
            self.progress_text.value = esc(f"{phase}: {message}" if message else phase)

    def _fail(self, exc: BaseException) -> None:
        self.error = error_of(exc)
        self.message.value = error_html(self.error)

    def _show_message(self, text: str) -> None:
        self.message.value = f'<div class="jp-agnes-w-note">{esc(text)}</div>'

    # -- the view ----------------------------------------------------------------------------------

    def _render_cards(self) -> None:
        self.cards.children = [self._card(p) for p in self.visible] or [
            w.HTML('<div class="jp-agnes-w-note">No package matches.</div>' if len(self.packages)
                   else f'<div class="jp-agnes-w-note">{esc(PackageList.empty)}</div>')]

    def _card(self, pkg: Package) -> w.Widget:
        shown = pkg.slug == self.selected
        details = w.Button(description="Hide details" if shown else "Details",
                           tooltip="Tables, uses and example questions")
        details.add_class("jp-agnes-w-details")
        details.on_click(lambda _b, slug=pkg.slug, shown=shown: self.show(None if shown else slug))
        controls: list[w.Widget] = [details]
        if pkg.requirement == "required":
            note = w.HTML(f'<span class="jp-agnes-w-note jp-agnes-w-required">{esc(REQUIRED_NOTE)}</span>')
            controls.append(note)
        elif pkg.in_stack:
            remove = w.Button(description="Remove", icon="minus", tooltip="Remove it from My Stack")
            remove.add_class("jp-agnes-w-remove")
            remove.on_click(lambda _b, slug=pkg.slug: self.remove(slug))
            controls.append(remove)
        else:
            add = w.Button(description="Add to My Stack", icon="plus", button_style="success")
            add.add_class("jp-agnes-w-add")
            add.on_click(lambda _b, slug=pkg.slug: self.add(slug))
            controls.append(add)
        card = w.VBox([w.HTML(_card(pkg)), w.HBox(controls), *([self.detail] if shown else [])])
        card.add_class("jp-agnes-w-pkg")
        card.add_class(f"jp-agnes-w-pkg-{_css_safe(pkg.slug)}")
        return card

    # -- fallbacks ---------------------------------------------------------------------------------

    def _fallback_text(self) -> str:
        lines = [f"data packages: {len(self.visible)} of {len(self.packages)} shown"]
        for p in self.visible:
            why = "required" if p.requirement == "required" else ("in my stack" if p.in_stack else "")
            lines.append(f"- {p.slug}: {p.title} [{p.lifecycle}]" + (f" ({why})" if why else ""))
        if self.report is not None:
            lines.append(self.report.summary())
        if self.error:
            lines.append(error_text(self.error))
        return "\n".join(lines)

    def _fallback_html(self) -> str:
        cards = "".join(_card(p) for p in self.visible)
        report = self.report._repr_html_() if self.report is not None else ""
        return (f'<div class="jp-agnes-w jp-agnes-w-browse"><div>{esc(self._fallback_text().splitlines()[0])}</div>'
                f"{cards}{report}{error_html(self.error)}</div>")


def _css_safe(slug: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in slug)
