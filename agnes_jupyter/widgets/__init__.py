"""Notebook widgets: a live metadata-freshness dashboard, a package browser and an
estimate-then-snapshot card (ipywidgets 8; the dashboard's view is an anywidget ES module).

    from agnes_jupyter import widgets
    widgets.freshness()
    widgets.browse()
    widgets.estimate(agnes.table("events").filter(...))

Each widget shows in JupyterLab through its widget manager, and carries a plain-text and an HTML
fallback for nbconvert, nbval and GitHub previews. Importing this module is cheap: ipywidgets and
anywidget load when a widget is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._browse import BrowseWidget
    from ._estimate import EstimateWidget
    from ._freshness import FreshnessWidget

__all__ = ["browse", "estimate", "freshness"]


def freshness() -> FreshnessWidget:
    """A live dashboard of the metadata of every remote table you may read: its state (pending,
    warming, fresh, error …), age, rows and size, with counts per state; admins get *Re-warm all*
    and a *Refresh* per row. Updates stream from the server until ``close()`` (re-running the cell
    closes the dashboard it made before)."""
    from ._freshness import open_dashboard

    return open_dashboard()


def browse() -> BrowseWidget:
    """The data packages you may see as cards, with filters, detail, *Add to My Stack* / *Remove*
    and *Sync* (a progress bar, then the sync report)."""
    from ._browse import BrowseWidget

    return BrowseWidget()


def estimate(expr_or_sql: Any) -> EstimateWidget:
    """The estimate of a scan as a card, with *Snapshot as…* (confirmation above the gate's
    threshold, then progress, then the snapshot's first rows)."""
    from ._estimate import EstimateWidget

    return EstimateWidget(expr_or_sql)
