"""The jira connector in the conformance suite, against the local Jira Cloud server (tests/_jira.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agnes_core.connectors import TableRef
from agnes_core.connectors.jira import JiraConnector
from tests import _jira
from tests._jira import JiraSite, make_issue, serve

from .conformance import ConnectorConformance, Subject

ROWS = 50
SECRETS = {"email": "AGNES_TEST_JIRA_EMAIL", "api_token": "AGNES_TEST_JIRA_TOKEN"}
WRONG_TOKEN = "ATATT3xFfGF0-wrong-" + "Zq9" * 8


@pytest.fixture
def jira_site() -> Iterator[JiraSite]:
    with serve(JiraSite([make_issue(n) for n in range(ROWS)])) as site:
        yield site


class TestJiraConformance(ConnectorConformance):
    @pytest.fixture
    def subject(self, jira_site: JiraSite, monkeypatch: pytest.MonkeyPatch) -> Subject:
        monkeypatch.setenv("AGNES_TEST_JIRA_EMAIL", _jira.EMAIL)
        monkeypatch.setenv("AGNES_TEST_JIRA_TOKEN", _jira.TOKEN)
        monkeypatch.setenv("AGNES_TEST_JIRA_WRONG", WRONG_TOKEN)
        options = {"site": jira_site.url, "retry_base_seconds": 0.001, "retry_max_seconds": 0.01}
        return Subject(
            make=lambda: JiraConnector("jira", options, SECRETS),
            table=TableRef(None, "issues"),
            rows=ROWS,
            columns=["key", "status"],
            incremental_key="id",
            incremental_after=10040,
            newer_rows=9,
            missing=TableRef(None, "no_such_table"),
            unreachable=lambda: JiraConnector("down", {**options, "site": "http://127.0.0.1:9"}, SECRETS),
            scan_sql="SELECT 1",
            scan_rows=0,
            wrong_secret=lambda: JiraConnector("jirawrong", options,
                                               {**SECRETS, "api_token": "AGNES_TEST_JIRA_WRONG"}),
            secret_value=WRONG_TOKEN,
            described=(TableRef(None, "issues"), "Jira issues, one row per issue, with custom fields as columns "
                       "named after them.", "story_point_estimate", "Jira field customfield_10016: Story point "
                       "estimate"),
        )
