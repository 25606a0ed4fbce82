"""The ``postgres`` connector (through DuckDB's postgres scanner)."""

from agnes_core.connectors.postgres.connector import PostgresConnector

__all__ = ["PostgresConnector"]
