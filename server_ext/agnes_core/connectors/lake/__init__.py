"""The ``lake`` connector: Parquet files, folders, Hive-partitioned folders and DuckDB files."""

from agnes_core.connectors.lake.connector import LakeConnector

__all__ = ["LakeConnector"]
