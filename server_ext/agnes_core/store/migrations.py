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
    Migration(
        2,
        "access: grants, tokens, user deactivation; extracts: runs, sync state, incremental state, "
        "schema changes; audit log",
        (
            "ALTER TABLE users ADD COLUMN deactivated_at TIMESTAMP",
            "ALTER TABLE users ADD COLUMN deactivated_by VARCHAR",
            """CREATE TABLE grants (
                id VARCHAR PRIMARY KEY,
                group_name VARCHAR NOT NULL,
                resource_type VARCHAR NOT NULL,
                resource_id VARCHAR NOT NULL,
                requirement VARCHAR NOT NULL,
                created_by VARCHAR,
                created_at TIMESTAMP NOT NULL,
                UNIQUE (group_name, resource_type, resource_id)
            )""",
            """CREATE TABLE tokens (
                id VARCHAR PRIMARY KEY,
                username VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                secret_hash VARCHAR NOT NULL,
                created_by VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                expires_at TIMESTAMP,
                revoked_at TIMESTAMP,
                revoked_by VARCHAR,
                last_used_at TIMESTAMP
            )""",
            """CREATE TABLE token_ips (
                token_id VARCHAR NOT NULL,
                ip VARCHAR NOT NULL,
                first_seen_at TIMESTAMP NOT NULL,
                PRIMARY KEY (token_id, ip)
            )""",
            """CREATE TABLE extract_runs (
                run_id VARCHAR PRIMARY KEY,
                table_id VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                trigger VARCHAR NOT NULL,
                started_by VARCHAR,
                status VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                rows_read BIGINT,
                rows BIGINT,
                size_bytes BIGINT,
                incremental_from VARCHAR,
                incremental_to VARCHAR,
                schema_changes VARCHAR,
                error VARCHAR
            )""",
            "CREATE INDEX extract_runs_table ON extract_runs (table_id, started_at)",
            """CREATE TABLE sync_state (
                table_id VARCHAR PRIMARY KEY,
                source VARCHAR NOT NULL,
                run_id VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                md5 VARCHAR NOT NULL,
                rows BIGINT NOT NULL,
                size_bytes BIGINT NOT NULL,
                schema_json VARCHAR NOT NULL,
                extracted_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE extract_state (
                table_id VARCHAR PRIMARY KEY,
                incremental_key VARCHAR NOT NULL,
                high_water VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE schema_changes (
                id VARCHAR PRIMARY KEY,
                table_id VARCHAR NOT NULL,
                run_id VARCHAR NOT NULL,
                detected_at TIMESTAMP NOT NULL,
                added VARCHAR NOT NULL,
                removed VARCHAR NOT NULL,
                type_changed VARCHAR NOT NULL
            )""",
            """CREATE TABLE audit_log (
                id VARCHAR PRIMARY KEY,
                occurred_at TIMESTAMP NOT NULL,
                actor VARCHAR,
                action VARCHAR NOT NULL,
                resource VARCHAR NOT NULL,
                outcome VARCHAR NOT NULL,
                details VARCHAR NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX audit_log_at ON audit_log (occurred_at)",
        ),
    ),
    Migration(
        3,
        "metadata cache of remote tables and refresh runs",
        (
            """CREATE TABLE metadata_cache (
                table_id VARCHAR PRIMARY KEY,
                rows BIGINT,
                size_bytes BIGINT,
                partition_by VARCHAR,
                clustered_by VARCHAR,
                entity_type VARCHAR,
                known_columns VARCHAR,
                examples VARCHAR,
                refreshed_at TIMESTAMP,
                attempted_at TIMESTAMP,
                error_at TIMESTAMP,
                error_msg VARCHAR
            )""",
            """CREATE TABLE metadata_runs (
                run_id VARCHAR PRIMARY KEY,
                kind VARCHAR NOT NULL,
                started_by VARCHAR,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                total INTEGER,
                succeeded INTEGER,
                no_data INTEGER,
                failed INTEGER,
                duration_ms BIGINT
            )""",
        ),
    ),
    Migration(
        4,
        "gated scans and per-user daily scanned bytes",
        (
            """CREATE TABLE scans (
                scan_id VARCHAR PRIMARY KEY,
                username VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                tables VARCHAR NOT NULL,
                sql VARCHAR NOT NULL,
                sql_hash VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                estimated_bytes BIGINT,
                estimate VARCHAR NOT NULL,
                scanned_bytes BIGINT,
                scanned_bytes_origin VARCHAR,
                rows BIGINT,
                bytes BIGINT,
                truncated BOOLEAN NOT NULL DEFAULT false,
                truncated_reason VARCHAR,
                error VARCHAR,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                duration_ms BIGINT
            )""",
            "CREATE INDEX scans_user ON scans (username, started_at)",
            """CREATE TABLE scan_usage (
                username VARCHAR NOT NULL,
                day DATE NOT NULL,
                scanned_bytes BIGINT NOT NULL DEFAULT 0,
                scans INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (username, day)
            )""",
        ),
    ),
    Migration(
        5,
        "data packages, recipes and stack subscriptions",
        (
            """CREATE TABLE packages (
                slug VARCHAR PRIMARY KEY,
                title VARCHAR NOT NULL,
                description VARCHAR NOT NULL DEFAULT '',
                cover_image_url VARCHAR,
                lifecycle VARCHAR NOT NULL,
                category VARCHAR,
                owner_name VARCHAR,
                owner_team VARCHAR,
                tags VARCHAR NOT NULL DEFAULT '[]',
                long_description VARCHAR NOT NULL DEFAULT '',
                when_to_use VARCHAR NOT NULL DEFAULT '[]',
                when_not_to_use VARCHAR NOT NULL DEFAULT '[]',
                example_questions VARCHAR NOT NULL DEFAULT '[]',
                tables VARCHAR NOT NULL DEFAULT '[]',
                created_by VARCHAR,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                deleted_at TIMESTAMP,
                deleted_by VARCHAR
            )""",
            """CREATE TABLE recipes (
                slug VARCHAR PRIMARY KEY,
                title VARCHAR NOT NULL,
                description VARCHAR NOT NULL DEFAULT '',
                sql VARCHAR NOT NULL,
                parameters VARCHAR NOT NULL DEFAULT '[]',
                tables VARCHAR NOT NULL DEFAULT '[]',
                created_by VARCHAR,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                deleted_at TIMESTAMP,
                deleted_by VARCHAR
            )""",
            """CREATE TABLE subscriptions (
                username VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                resource_id VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (username, kind, resource_id)
            )""",
        ),
    ),
    Migration(
        6,
        "settings an admin changes at run time (gate limits)",
        (
            """CREATE TABLE settings (
                key VARCHAR PRIMARY KEY,
                value VARCHAR NOT NULL,
                updated_by VARCHAR,
                updated_at TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        7,
        "knowing the data before scanning it: admin column descriptions; source descriptions, "
        "uncompressed sizes and column ranges in the metadata cache and sync state",
        (
            "ALTER TABLE tables ADD COLUMN column_descriptions VARCHAR DEFAULT '{}'",
            "ALTER TABLE metadata_cache ADD COLUMN description VARCHAR",
            "ALTER TABLE metadata_cache ADD COLUMN uncompressed_bytes BIGINT",
            "ALTER TABLE metadata_cache ADD COLUMN column_stats VARCHAR",
            "ALTER TABLE sync_state ADD COLUMN uncompressed_bytes BIGINT",
            "ALTER TABLE sync_state ADD COLUMN source_description VARCHAR",
        ),
    ),
    Migration(
        8,
        "what a warehouse says a scan read and billed (job statistics), next to the estimate",
        (
            "ALTER TABLE scans ADD COLUMN processed_bytes BIGINT",
            "ALTER TABLE scans ADD COLUMN billed_bytes BIGINT",
            "ALTER TABLE scans ADD COLUMN cache_hit BOOLEAN",
            "ALTER TABLE scans ADD COLUMN source_job_id VARCHAR",
        ),
    ),
    Migration(
        9,
        "when a table's data last changed in its source (metadata cache and extracts)",
        (
            "ALTER TABLE metadata_cache ADD COLUMN source_changed_at TIMESTAMP",
            "ALTER TABLE sync_state ADD COLUMN source_changed_at TIMESTAMP",
        ),
    ),
]
