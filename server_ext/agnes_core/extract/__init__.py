"""Extracts: the runtime that writes local tables to Parquet, their schedules and jobs."""
