"""The state store: one DuckDB file (registry, access, runs, audit) and its migrations."""
