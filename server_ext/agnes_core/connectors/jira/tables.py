"""The Jira connector's six tables: typed Arrow schemas, and Jira's JSON (search results and webhook
payloads alike) flattened the way an analyst queries it: names rather than nested objects, times as
UTC timestamps, Atlassian Document Format as plain text, custom fields as columns named after them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str


@dataclass(frozen=True)
class TableSpec:
    """One table: its columns, its primary key, and the column whose value says which version of a
    row is newer (a webhook older than the row is ignored)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    version: str
    #: The Jira fields its rows come from (search ``fields``).
    fields: tuple[str, ...]


def _c(name: str, type_: pa.DataType, description: str) -> Column:
    return Column(name, type_, description)


_ISSUE_REF = (_c("issue_id", pa.int64(), "The issue's id."), _c("issue_key", pa.string(), "The issue's key (ABC-123)."))
_ISSUE_UPDATED = _c("issue_updated", TS, "When the issue was last updated as this row was read (UTC).")

SPECS: dict[str, TableSpec] = {s.name: s for s in (
    TableSpec("issues", "Jira issues, one row per issue, with custom fields as columns named after them.", (
        _c("id", pa.int64(), "The issue's id."),
        _c("key", pa.string(), "The issue's key (ABC-123)."),
        _c("project_key", pa.string(), "The project's key."),
        _c("project_name", pa.string(), "The project's name."),
        _c("issue_type", pa.string(), "Bug, Story, Task, Epic..."),
        _c("summary", pa.string(), "The issue's title."),
        _c("description", pa.string(), "The description as plain text."),
        _c("status", pa.string(), "The status's name."),
        _c("status_category", pa.string(), "To Do, In Progress or Done."),
        _c("priority", pa.string(), "The priority's name."),
        _c("resolution", pa.string(), "The resolution's name (empty while unresolved)."),
        _c("assignee", pa.string(), "The assignee's display name."),
        _c("assignee_account_id", pa.string(), "The assignee's Atlassian account id."),
        _c("reporter", pa.string(), "The reporter's display name."),
        _c("reporter_account_id", pa.string(), "The reporter's Atlassian account id."),
        _c("labels", _STRINGS, "The issue's labels."),
        _c("components", _STRINGS, "The components' names."),
        _c("fix_versions", _STRINGS, "The fix versions' names."),
        _c("parent_key", pa.string(), "The parent issue's key (an epic, or the story of a sub-task)."),
        _c("created", TS, "When the issue was created (UTC)."),
        _c("updated", TS, "When the issue was last updated (UTC)."),
        _c("resolved", TS, "When the issue was resolved (UTC)."),
        _c("due_date", pa.date32(), "The due date."),
    ), ("id",), "updated", ("project", "issuetype", "summary", "description", "status", "priority", "resolution",
                            "assignee", "reporter", "labels", "components", "fixVersions", "parent", "created",
                            "updated", "resolutiondate", "duedate")),
    TableSpec("comments", "Comments on Jira issues.", (
        _c("id", pa.int64(), "The comment's id."), *_ISSUE_REF,
        _c("author", pa.string(), "The author's display name."),
        _c("author_account_id", pa.string(), "The author's Atlassian account id."),
        _c("body", pa.string(), "The comment as plain text."),
        _c("created", TS, "When the comment was written (UTC)."),
        _c("updated", TS, "When the comment was last edited (UTC)."),
        _c("issue_updated", TS, _ISSUE_UPDATED.description),
    ), ("id",), "updated", ("comment", "updated")),
    TableSpec("changelog", "Every change of every Jira issue field: one row per changed field.", (
        _c("history_id", pa.int64(), "The change's id (one change can set several fields)."),
        _c("item_index", pa.int32(), "The field's position within the change."),
        *_ISSUE_REF,
        _c("author", pa.string(), "Who made the change (display name)."),
        _c("author_account_id", pa.string(), "Who made the change (account id)."),
        _c("created", TS, "When the change was made (UTC)."),
        _c("field", pa.string(), "The field's name (status, assignee, a custom field's name...)."),
        _c("field_id", pa.string(), "The field's id."),
        _c("from_value", pa.string(), "The old value's id."),
        _c("from_string", pa.string(), "The old value as shown."),
        _c("to_value", pa.string(), "The new value's id."),
        _c("to_string", pa.string(), "The new value as shown."),
        _c("issue_updated", TS, _ISSUE_UPDATED.description),
    ), ("history_id", "item_index"), "created", ("updated",)),
    TableSpec("attachments", "Files attached to Jira issues (metadata, not content).", (
        _c("id", pa.int64(), "The attachment's id."), *_ISSUE_REF,
        _c("filename", pa.string(), "The file's name."),
        _c("author", pa.string(), "Who attached it (display name)."),
        _c("author_account_id", pa.string(), "Who attached it (account id)."),
        _c("created", TS, "When it was attached (UTC)."),
        _c("size", pa.int64(), "Its size in bytes."),
        _c("mime_type", pa.string(), "Its media type."),
        _c("content_url", pa.string(), "Where Jira serves its content (needs Jira credentials)."),
        _ISSUE_UPDATED,
    ), ("id",), "issue_updated", ("attachment", "updated")),
    TableSpec("issue_links", "Links between Jira issues, one row per link per side.", (
        _c("id", pa.int64(), "The link's id (the same on both linked issues)."), *_ISSUE_REF,
        _c("link_type", pa.string(), "The link type's name (Blocks, Relates...)."),
        _c("direction", pa.string(), "outward or inward, seen from this issue."),
        _c("relation", pa.string(), "The relation as read from this issue (blocks, is blocked by...)."),
        _c("linked_issue_id", pa.int64(), "The other issue's id."),
        _c("linked_issue_key", pa.string(), "The other issue's key."),
        _c("linked_issue_status", pa.string(), "The other issue's status when read."),
        _ISSUE_UPDATED,
    ), ("id", "issue_id"), "issue_updated", ("issuelinks", "updated")),
    TableSpec("remote_links", "Links from Jira issues to other systems (pull requests, documents...).", (
        _c("id", pa.int64(), "The remote link's id."), *_ISSUE_REF,
        _c("global_id", pa.string(), "The link's global id in the other system."),
        _c("url", pa.string(), "The linked object's URL."),
        _c("title", pa.string(), "The linked object's title."),
        _c("relationship", pa.string(), "The relationship (e.g. mentioned in)."),
        _c("application", pa.string(), "The other system's name."),
        _ISSUE_UPDATED,
    ), ("id",), "issue_updated", ("updated",)),
)}

TABLE_NAMES = tuple(SPECS)


# -- custom fields ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomField:
    id: str
    name: str
    column: str
    type: pa.DataType
    kind: str  # how the value is read: number, string, date, datetime, list, json


def column_name(text: str) -> str:
    """A valid, lower-case column name for a Jira field's name."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()[:60]
    if not name or name[0].isdigit():
        name = f"cf_{name}".rstrip("_")
    return name


def custom_fields(fields: Iterable[dict[str, Any]]) -> list[CustomField]:
    """Jira's field list (``GET /rest/api/3/field``) -> custom field columns, named after each
    field's name; a name taken by a standard column or another field gets the field's number."""
    taken = {c.name for c in SPECS["issues"].columns}
    found: list[CustomField] = []
    for field in sorted((f for f in fields if f.get("custom") and str(f.get("id", "")).startswith("customfield_")),
                        key=lambda f: str(f["id"])):
        schema = field.get("schema") or {}
        kind, type_ = _custom_type(schema)
        column = column_name(str(field.get("name") or field["id"]))
        if column in taken:
            column = f"{column}_{str(field['id']).removeprefix('customfield_')}"
        taken.add(column)
        found.append(CustomField(str(field["id"]), str(field.get("name") or field["id"]), column, type_, kind))
    return found


def _custom_type(schema: dict[str, Any]) -> tuple[str, pa.DataType]:
    kind = schema.get("type")
    if kind == "number":
        return "number", pa.float64()
    if kind == "date":
        return "date", pa.date32()
    if kind == "datetime":
        return "datetime", TS
    if kind == "array":
        return "list", _STRINGS
    if kind in ("string", "option", "user", "version", "project", "priority", "status", "group", "issuetype",
                "resolution", "sd-customerrequesttype", "team"):
        return "string", pa.string()
    return "json", pa.string()


def schema_of(table: str, customs: Sequence[CustomField] = ()) -> pa.Schema:
    """The table's Arrow schema with its column descriptions (issues: with its custom fields)."""
    spec = SPECS[table]
    columns = list(spec.columns)
    if table == "issues":
        columns += [Column(cf.column, cf.type, f"Jira field {cf.id}: {cf.name}") for cf in customs]
    return pa.schema([pa.field(c.name, c.type, metadata={b"description": c.description.encode()}) for c in columns],
                     metadata={b"description": spec.description.encode()})


# -- values -------------------------------------------------------------------------------------


def ts(value: Any) -> datetime | None:
    """A Jira time (``2024-01-15T10:30:00.000+0100``) as an aware datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def day(value: Any) -> date | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def ms_time(value: Any) -> datetime | None:
    """A webhook's ``timestamp`` (milliseconds since the epoch) as an aware datetime."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _name(obj: Any, key: str = "name") -> str | None:
    return obj.get(key) if isinstance(obj, dict) else None


def _names(items: Any, key: str = "name") -> list[str]:
    return [str(i[key]) for i in items or () if isinstance(i, dict) and i.get(key) is not None]


def adf_text(node: Any) -> str | None:
    """Atlassian Document Format (a description, a comment body) as plain text; plain strings (API
    v2 payloads) pass through."""
    if node is None:
        return None
    if isinstance(node, str):
        return node
    out: list[str] = []
    _adf(node, out, "")
    text = "".join(out)
    return (re.sub(r"\n{3,}", "\n\n", text) if "\n\n\n" in text else text).strip()


_BLOCKS = {"paragraph", "heading", "blockquote", "codeBlock", "rule", "panel", "mediaSingle", "mediaGroup",
           "tableRow", "decisionItem", "taskItem", "expand", "nestedExpand"}


def _adf(node: Any, out: list[str], indent: str) -> None:
    if isinstance(node, list):
        for child in node:
            _adf(child, out, indent)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "text":
        out.append(str(node.get("text", "")))
        return
    if kind == "paragraph":  # the common case, without the generic lookups below
        _adf(node.get("content"), out, indent)
        if out and out[-1].endswith(" | "):
            out[-1] = out[-1][:-3]
        out.append("\n")
        return
    attrs = node.get("attrs") or {}
    if kind == "hardBreak":
        out.append("\n")
    elif kind == "mention":
        out.append(str(attrs.get("text") or "@" + str(attrs.get("id", ""))))
    elif kind == "emoji":
        out.append(str(attrs.get("text") or attrs.get("shortName") or ""))
    elif kind in ("inlineCard", "blockCard", "embedCard"):
        out.append(str(attrs.get("url") or ""))
    elif kind == "date":
        stamp = _int(attrs.get("timestamp"))
        out.append(datetime.fromtimestamp(stamp / 1000, tz=timezone.utc).date().isoformat() if stamp else "")
    elif kind == "status":
        out.append(str(attrs.get("text") or ""))
    elif kind == "listItem":
        out.append(f"{indent}- ")
        _adf(node.get("content"), out, indent + "  ")
        if not out[-1].endswith("\n"):
            out.append("\n")
    elif kind in ("bulletList", "orderedList"):
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        _adf(node.get("content"), out, indent)
    elif kind in ("tableCell", "tableHeader"):
        start = len(out)
        _adf(node.get("content"), out, indent)
        cell = "".join(out[start:]).strip().replace("\n", " ")
        del out[start:]
        out.append(cell + " | ")
    else:
        _adf(node.get("content"), out, indent)
        if kind in _BLOCKS:
            if out and out[-1].endswith(" | "):
                out[-1] = out[-1][:-3]
            out.append("\n")


def custom_value(cf: CustomField, value: Any) -> Any:
    if value is None:
        return None
    if cf.kind == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if cf.kind == "date":
        return day(value)
    if cf.kind == "datetime":
        return ts(value)
    if cf.kind == "list":
        items = value if isinstance(value, list) else [value]
        return [s for s in (_plain(i) for i in items) if s is not None]
    if cf.kind == "string":
        return _plain(value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        for key in ("value", "displayName", "name", "key", "id"):
            if value.get(key) is not None:
                return str(value[key])
        if value.get("type") == "doc":
            return adf_text(value)
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


# -- rows ---------------------------------------------------------------------------------------


def issue_row(issue: dict[str, Any], customs: Sequence[CustomField] = ()) -> dict[str, Any]:
    f = issue.get("fields") or {}
    project = f.get("project") or {}
    status = f.get("status") or {}
    assignee = f.get("assignee") or {}
    reporter = f.get("reporter") or {}
    row = {
        "id": _int(issue.get("id")), "key": issue.get("key"),
        "project_key": project.get("key"), "project_name": project.get("name"),
        "issue_type": _name(f.get("issuetype")), "summary": f.get("summary"),
        "description": adf_text(f.get("description")),
        "status": status.get("name"), "status_category": _name(status.get("statusCategory")),
        "priority": _name(f.get("priority")), "resolution": _name(f.get("resolution")),
        "assignee": assignee.get("displayName"), "assignee_account_id": assignee.get("accountId"),
        "reporter": reporter.get("displayName"), "reporter_account_id": reporter.get("accountId"),
        "labels": [str(x) for x in f.get("labels") or ()], "components": _names(f.get("components")),
        "fix_versions": _names(f.get("fixVersions")), "parent_key": _name(f.get("parent"), "key"),
        "created": ts(f.get("created")), "updated": ts(f.get("updated")), "resolved": ts(f.get("resolutiondate")),
        "due_date": day(f.get("duedate")),
    }
    for cf in customs:
        row[cf.column] = custom_value(cf, f.get(cf.id))
    return row


def _issue_ref(issue: dict[str, Any]) -> dict[str, Any]:
    return {"issue_id": _int(issue.get("id")), "issue_key": issue.get("key"),
            "issue_updated": ts((issue.get("fields") or {}).get("updated"))}


def comment_row(comment: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    author = comment.get("author") or {}
    return {"id": _int(comment.get("id")), "issue_id": ref["issue_id"], "issue_key": ref["issue_key"],
            "author": author.get("displayName"), "author_account_id": author.get("accountId"),
            "body": adf_text(comment.get("body")), "created": ts(comment.get("created")),
            "updated": ts(comment.get("updated") or comment.get("created")), "issue_updated": ref["issue_updated"]}


def history_rows(history: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    author = history.get("author") or {}
    base = {"history_id": _int(history.get("id")), "issue_id": ref["issue_id"], "issue_key": ref["issue_key"],
            "author": author.get("displayName"), "author_account_id": author.get("accountId"),
            "created": ts(history.get("created")), "issue_updated": ref["issue_updated"]}
    return [{**base, "item_index": i, "field": item.get("field"), "field_id": item.get("fieldId"),
             "from_value": _str(item.get("from")), "from_string": _str(item.get("fromString")),
             "to_value": _str(item.get("to")), "to_string": _str(item.get("toString"))}
            for i, item in enumerate(history.get("items") or ())]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def attachment_row(att: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    author = att.get("author") or {}
    return {"id": _int(att.get("id")), **ref, "filename": att.get("filename"), "author": author.get("displayName"),
            "author_account_id": author.get("accountId"), "created": ts(att.get("created")),
            "size": _int(att.get("size")), "mime_type": att.get("mimeType"), "content_url": att.get("content")}


def link_row(link: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    kind = link.get("type") or {}
    direction = "outward" if "outwardIssue" in link else "inward"
    other = link.get("outwardIssue") or link.get("inwardIssue") or {}
    return {"id": _int(link.get("id")), **ref, "link_type": kind.get("name"), "direction": direction,
            "relation": kind.get(direction), "linked_issue_id": _int(other.get("id")),
            "linked_issue_key": other.get("key"),
            "linked_issue_status": _name((other.get("fields") or {}).get("status"))}


def remote_link_row(link: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    obj = link.get("object") or {}
    app = link.get("application") or {}
    return {"id": _int(link.get("id")), **ref, "global_id": link.get("globalId"), "url": obj.get("url"),
            "title": obj.get("title"), "relationship": link.get("relationship"), "application": app.get("name")}


def child_rows(table: str, issue: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a child table that an issue carries inline (comments and histories: the page the
    search or the webhook included)."""
    ref = _issue_ref(issue)
    f = issue.get("fields") or {}
    if table == "comments":
        return [comment_row(c, ref) for c in (f.get("comment") or {}).get("comments") or ()]
    if table == "changelog":
        return [r for h in (issue.get("changelog") or {}).get("histories") or () for r in history_rows(h, ref)]
    if table == "attachments":
        return [attachment_row(a, ref) for a in f.get("attachment") or ()]
    if table == "issue_links":
        return [link_row(link, ref) for link in f.get("issuelinks") or ()]
    raise KeyError(table)


def issue_ref(issue: dict[str, Any]) -> dict[str, Any]:
    return _issue_ref(issue)


def to_batch(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=schema)
