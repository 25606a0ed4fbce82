"""The kernel reads column types from the schema endpoint's Arrow spelling, for any source."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from agnes_jupyter._types import arrow_type, ibis_dtype

TYPES = [pa.int8(), pa.int64(), pa.uint32(), pa.float32(), pa.float64(), pa.bool_(), pa.string(), pa.large_string(),
         pa.binary(), pa.binary(16), pa.date32(), pa.time64("us"), pa.timestamp("us"),
         pa.timestamp("us", tz="UTC"), pa.timestamp("ns", tz="Europe/Prague"), pa.duration("ms"),
         pa.decimal128(10, 2), pa.decimal128(38, 0), pa.list_(pa.string()), pa.large_list(pa.int32()),
         pa.struct([("a", pa.int64()), ("b", pa.list_(pa.struct([("c", pa.string())])))]),
         pa.map_(pa.string(), pa.int64())]


@pytest.mark.parametrize("pa_type", TYPES, ids=str)
def test_every_arrow_type_reads_back_from_its_string(pa_type: pa.DataType) -> None:
    assert arrow_type(str(pa_type)) == pa_type


def test_columns_become_ibis_dtypes_and_unknown_types_stay_usable_as_text() -> None:
    assert ibis_dtype({"arrow_type": "decimal128(10, 2)", "nullable": False}) == ibis.dtype("!decimal(10, 2)")
    assert ibis_dtype({"arrow_type": "timestamp[us, tz=UTC]"}) == ibis.dtype("timestamp('UTC', 6)")
    assert ibis_dtype({"arrow_type": "something<odd>"}) == ibis.dtype("string")
