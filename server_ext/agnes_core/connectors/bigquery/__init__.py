"""The ``bigquery`` connector (google-cloud-bigquery for jobs and metadata, the Storage Read API for Arrow reads)."""

from agnes_core.connectors.bigquery.connector import BigQueryConnector

__all__ = ["BigQueryConnector"]
