"""The ``lake`` connector: Parquet files, folders, Hive-partitioned folders and DuckDB files."""

from .connector import LakeConnector

__all__ = ["LakeConnector"]
