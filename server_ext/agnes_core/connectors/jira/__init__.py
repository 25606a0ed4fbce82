"""Jira Cloud: REST API v3 search for extracts, signed webhooks for live changes (STREAM)."""

from agnes_core.connectors.jira.connector import JiraConnector

__all__ = ["JiraConnector"]
