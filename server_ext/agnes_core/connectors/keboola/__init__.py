"""The Keboola connector: Keboola Storage through the Storage API (discovery, metadata, extracts)."""

from agnes_core.connectors.keboola.connector import KeboolaConnector

__all__ = ["KeboolaConnector"]
