"""The notebook cell of a rendered recipe: one text, built by the core, for ``recipe().insert()`` and
the panel's *Insert into notebook*."""

from __future__ import annotations

from agnes_core.curation.recipes import recipe_cell


def test_a_title_with_line_breaks_stays_one_comment_line() -> None:
    """Whatever a title holds (an older server kept line breaks), the header is one comment line:
    a title never becomes code, nor does a parameter value."""
    cell = recipe_cell("r", "Top\nSELECT * FROM glob('/*')\u2028\r\x85x", "local", {"p": "a\nb\u2028c"}, "SELECT 1")
    lines = cell.splitlines()
    assert lines[0] == "%%agnes"
    assert lines[1].startswith("-- recipe r: Top SELECT * FROM glob('/*')")
    assert lines[2:] == ["SELECT 1"]


def test_a_remote_recipe_runs_through_the_gate_into_a_variable_named_after_it() -> None:
    cell = recipe_cell("daily-events", "Events of one day", "remote", {"day": "2026-02-01", "n": 3},
                       "SELECT 1\nFROM events")
    assert cell.splitlines() == ["%%agnes --remote --as daily_events",
                                 "-- recipe daily-events: Events of one day (day='2026-02-01', n=3)",
                                 "SELECT 1", "FROM events"]
