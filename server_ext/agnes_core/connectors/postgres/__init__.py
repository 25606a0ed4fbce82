"""The ``postgres`` connector (through DuckDB's postgres scanner)."""

from .connector import PostgresConnector

__all__ = ["PostgresConnector"]
