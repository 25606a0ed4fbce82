"""Versioned schema migrations of the state store (``system.duckdb``).

Append only: a released migration is never edited; a change is a new migration.
Timestamps are naive UTC; JSON values are stored as text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "registry: sources and tables; users, groups and members",
        (
            """CREATE TABLE sources (
                name VARCHAR PRIMARY KEY,
                type VARCHAR NOT NULL,
                options VARCHAR NOT NULL DEFAULT '{}',
                secrets VARCHAR NOT NULL DEFAULT '{}',
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE tables (
                id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                description VARCHAR NOT NULL DEFAULT '',
                source VARCHAR NOT NULL,
                bucket VARCHAR,
                source_table VARCHAR NOT NULL,
                query_mode VARCHAR NOT NULL,
                primary_key VARCHAR,
                folder VARCHAR,
                schedule VARCHAR,
                sql VARCHAR,
                incremental_key VARCHAR,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE users (
                username VARCHAR PRIMARY KEY,
                display_name VARCHAR,
                is_active BOOLEAN NOT NULL DEFAULT TRUE,
                created_by VARCHAR,
                created_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE groups (
                name VARCHAR PRIMARY KEY,
                description VARCHAR NOT NULL DEFAULT '',
                created_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE group_members (
                group_name VARCHAR NOT NULL,
                username VARCHAR NOT NULL,
                added_at TIMESTAMP NOT NULL,
                PRIMARY KEY (group_name, username)
            )""",
        ),
    ),
]
