"""The one helper for conditional and partial GETs of synced data."""

from __future__ import annotations

import pytest

from agnes_core.errors import AgnesError
from agnes_server.byteranges import byte_range, not_modified


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("bytes=0-", (0, 99)), ("bytes=10-19", (10, 19)), ("bytes=90-200", (90, 99)),
    ("bytes=-10", (90, 99)), ("bytes=-500", (0, 99)), ("BYTES = 5 - 6", (5, 6)), ("bytes=99-99", (99, 99)),
])
def test_ranges_a_100_byte_file_serves(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=150-160", "bytes=20-10", "bytes=-0", "bytes=-",
                                    "bytes=0-1,5-6", "items=0-1", "bytes=a-b"])
def test_ranges_that_cannot_be_served_are_416_with_the_size(header: str) -> None:
    with pytest.raises(AgnesError) as info:
        byte_range(header, 100)
    assert info.value.code == "range_not_satisfiable"
    assert info.value.details["size"] == 100


@pytest.mark.parametrize(("header", "expected"), [
    (None, False), ('"abc"', True), ('"x", "abc"', True), ('W/"abc"', True), ("*", True), ('"abcd"', False),
    ("abc", False),
])
def test_if_none_match(header: str | None, expected: bool) -> None:
    assert not_modified(header, '"abc"') is expected
