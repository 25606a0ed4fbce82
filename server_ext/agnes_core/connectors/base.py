"""The connector protocol: one class per source type, declaring only what it can do.

Every connector uses the same method names. A method whose capability a connector
does not declare raises :class:`NotSupported`. Connectors are found through the
``agnes.connectors`` entry-point group, so a separate package can add one.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from agnes_core.connectors import calls
from agnes_core.connectors.types import TypeNaming
from agnes_core.errors import NotSupported, SourceError, SourceTimeout, ValidationError
from agnes_core.ids import env_var

if TYPE_CHECKING:
    import pyarrow as pa


class Capability(str, enum.Enum):
    DISCOVER = "discover"  # list tables with Arrow schemas and entity types
    READ = "read"  # bounded Arrow batches of one table (extracts)
    STREAM = "stream"  # continuous changes pushed to us (webhooks), applied to extracted tables
    REMOTE = "remote"  # run validated SQL in the source (gated scans)
    METADATA = "metadata"  # rows, bytes, partitioning, clustering without reading data
    ESTIMATE = "estimate"  # bytes a query would scan, without running it
    STATS = "stats"  # per-column min/max/null counts from the source's metadata, without reading data


ENTITY_TYPES = ("table", "view", "materialized_view", "partitioned_table", "external")


@dataclass(frozen=True)
class TableRef:
    """A table's physical address inside its source."""

    bucket: str | None
    name: str

    def display(self) -> str:
        return f"{self.bucket}.{self.name}" if self.bucket else self.name


@dataclass
class DiscoveredTable:
    bucket: str | None
    name: str
    schema: pa.Schema
    entity_type: str = "table"
    description: str = ""

    @property
    def ref(self) -> TableRef:
        return TableRef(self.bucket, self.name)


@dataclass
class ReadOptions:
    """What to read: columns (None = all), a filter predicate in the source's dialect
    (validated by the caller), an incremental key and its exclusive lower bound."""

    columns: list[str] | None = None
    filter: str | None = None
    incremental_key: str | None = None
    incremental_after: Any = None
    batch_size: int = 65_536


@dataclass
class TableMetadata:
    """Cost-relevant metadata. Every field is optional: a provider fills what it knows.

    Providers never raise: a failure comes back as ``TableMetadata(error="...")`` (the
    reason, redacted), and ``None`` means the source has nothing to say about the table.
    """

    rows: int | None = None
    size_bytes: int | None = None
    partition_by: list[str] | None = None
    clustered_by: list[str] | None = None
    entity_type: str | None = None
    known_columns: list[str] = field(default_factory=list)
    #: Real values of partition or cluster columns (e.g. the latest partition) for examples.
    examples: dict[str, Any] = field(default_factory=dict)
    #: The table's own description in the source (a COMMENT, a Parquet ``description`` key).
    description: str | None = None
    #: The data's size uncompressed (``size_bytes`` is what it takes on disk), when known.
    uncompressed_bytes: int | None = None
    #: When the table's data last changed in the source (a warehouse's last-modified time,
    #: Keboola's ``lastChangeDate``), UTC, when the source says.
    changed_at: dt.datetime | None = None
    error: str | None = None


#: The schema metadata key under which a connector's ``schema()`` may say when the table's data
#: last changed in the source (ISO 8601, UTC); extracts carry it into their file and the catalog.
SOURCE_CHANGED_AT_KEY = b"agnes.source_changed_at"


def changed_at_metadata(when: dt.datetime | None) -> dict[bytes, bytes]:
    """Schema metadata saying the data last changed at ``when`` (nothing when unknown)."""
    if when is None:
        return {}
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return {SOURCE_CHANGED_AT_KEY: when.isoformat(timespec="seconds").encode()}


#: Where a column's range comes from: exact file statistics, exact partition directory names, or
#: the source's sampled statistics (approximate).
RANGE_ORIGINS = ("parquet_footer", "hive_partitions", "pg_stats")


@dataclass
class ColumnStats:
    """What the source's metadata says of one column's values, read without scanning data.

    ``min``/``max`` are JSON-safe (numbers, strings; dates and times in ISO 8601) or None when
    unknown; ``null_count`` is None when unknown; ``approximate`` when the figures come from
    sampled statistics rather than exact ones."""

    min: Any = None
    max: Any = None
    null_count: int | None = None
    origin: str = "parquet_footer"
    approximate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "null_count": self.null_count, "origin": self.origin,
                "approximate": self.approximate}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnStats:
        return cls(data.get("min"), data.get("max"), data.get("null_count"),
                   str(data.get("origin") or "parquet_footer"), bool(data.get("approximate")))


@dataclass
class TableRead:
    """What a query reads of one table, for estimates: the columns it uses and, per place the
    table is read, the WHERE conjuncts on that table alone (rendered in the source's dialect;
    an empty list means that place reads every row)."""

    ref: TableRef
    columns: set[str]
    filters: list[list[str]]


@dataclass
class ScanEstimate:
    """What a query would scan, found without reading data. ``scan_bytes`` counts logical
    (uncompressed) bytes, as warehouses bill; ``rows_read`` bounds the rows the scan touches;
    ``result_rows``/``result_bytes`` are filled when the source can tell (a planner)."""

    scan_bytes: int
    rows_read: int | None = None
    result_rows: int | None = None
    result_bytes: int | None = None
    compressed_bytes: int | None = None
    method: str = ""
    #: What ``scan_bytes`` counts: ``uncompressed`` (logical bytes of the columns read) or
    #: ``on_disk`` (the pages or files read, as stored).
    basis: str = "uncompressed"
    tables: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ScanGuard:
    """How a gated scan is bounded in the source: ``timeout_s`` of wall time (the server also
    interrupts it then), ``max_row_bytes`` per result row where the source can check it, and
    ``scan_id`` to find its sessions (to cancel them). ``username`` and ``max_bytes`` (the per-scan
    cap, lowered by the user's budget left today) are for sources that bill by the byte and can
    enforce a limit themselves (BigQuery's ``maximum_bytes_billed``, job labels)."""

    scan_id: str
    timeout_s: float
    max_row_bytes: int = 64 * 1024 * 1024
    username: str = ""
    max_bytes: int | None = None


@dataclass(frozen=True)
class ScanBilling:
    """What the source says the last scan it ran actually read and billed (a warehouse job's own
    statistics), for the scan record and the daily budget; ``None`` where it does not say."""

    processed_bytes: int | None = None
    billed_bytes: int | None = None
    cache_hit: bool | None = None
    job_id: str | None = None


@dataclass
class StreamChange:
    """STREAM: one pushed change of one table, already in the table's terms. ``upserts`` are rows
    (column -> value) replacing those with the same primary key; ``deletes`` name rows by their
    key columns; ``replace`` (column -> value) deletes the table's current rows matching it that
    ``upserts`` does not hold (an issue's links, as the change lists them all). ``version`` orders
    changes of a row (a change older than the row is ignored); ``event_id`` identifies the pushed
    event, so a replay is applied once."""

    table: str
    event_id: str
    version: Any
    upserts: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[dict[str, Any]] = field(default_factory=list)
    replace: dict[str, Any] | None = None


@dataclass(frozen=True)
class StreamTable:
    """STREAM: how pushed changes apply to one table: its primary key and the column holding a
    row's version (e.g. ``updated``)."""

    key: tuple[str, ...]
    version: str


#: Calls that run bounded (see :mod:`.calls`): on a thread of their own, stopped at the
#: connector's ``call_timeout_s`` or at shutdown, their caller released at once.
BOUNDED_CALLS = ("test", "discover", "schema", "metadata", "column_stats", "sample", "estimate")
#: Calls that open a stream: registered while open, so shutdown stops them.
STREAM_CALLS = ("read", "scan")


@dataclass(frozen=True)
class FormField:
    """One field of a source's form (the admin console draws it; the connector still validates).

    ``kind`` is ``text``, ``integer``, ``list`` (comma-separated texts) or ``choice`` (one of
    ``choices``). For a secret, the field takes the *name* of an environment variable.
    """

    name: str
    help: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    placeholder: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "help": self.help, "kind": self.kind, "required": self.required,
                "choices": list(self.choices), "placeholder": self.placeholder}


class Connector(TypeNaming):
    """Base class of every connector.

    Subclasses set ``type``, ``capabilities`` and ``dialect`` (the sqlglot dialect of
    the source's SQL), validate their options in :meth:`validate_options`, and
    implement the methods of the capabilities they declare. Secrets are given as the
    *names* of environment variables and resolved with :meth:`secret` at use time;
    a secret value never appears in a message, a log line or a response.

    No source can hang the server. Every call of :data:`BOUNDED_CALLS` runs on a thread of its
    own and is stopped (:meth:`interrupt`) at ``call_timeout_s`` — its caller gets a
    :class:`SourceTimeout` — or when the server shuts down; streams (:meth:`read`,
    :meth:`scan`) are stopped at shutdown. Subclasses get this by defining the methods (the
    base class wraps them); they must also bound what :meth:`interrupt` cannot stop (connecting:
    a connect timeout; statements: a statement timeout, on by default), and implement
    :meth:`interrupt` for every call, not only scans.
    """

    type: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    dialect: ClassVar[str] = "duckdb"
    #: Names of the secrets the connector understands, e.g. ``("dsn",)``.
    secret_names: ClassVar[tuple[str, ...]] = ()
    #: Secrets that must be configured.
    required_secrets: ClassVar[tuple[str, ...]] = ()
    #: What an admin reads when adding such a source: a title, the options and the secrets as form
    #: fields (secrets: the *names* of environment variables). Secrets not described get a plain field.
    title: ClassVar[str] = ""
    option_fields: ClassVar[tuple[FormField, ...]] = ()
    secret_fields: ClassVar[tuple[FormField, ...]] = ()
    #: The schema a table without a bucket lives in, when scans name it physically.
    default_schema: ClassVar[str] = "main"
    #: Price per TiB scanned, used by estimates (0 = free).
    default_price_per_tib_usd: ClassVar[float] = 0.0

    #: Wall time each bounded call may take (None: no limit); callers set it per instance.
    call_timeout_s: float | None = calls.DEFAULT_CALL_TIMEOUT_S

    def __init__(
        self,
        name: str,
        options: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.options = self.validate_options(dict(options))
        self.secrets = self.validate_secrets(dict(secrets or {}))
        self._environ = environ if environ is not None else os.environ
        #: A call was stopped and left running (its source did not let go): this connector is not
        #: used again, and that call's thread closes it when it ends.
        self.spent = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _bound_methods(cls)

    # -- configuration ------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Return normalised options or raise ValidationError naming the field."""
        return options

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The connector for an admin: type, title, capabilities and its form (``GET admin/connectors``)."""
        described = {f.name: f for f in cls.secret_fields}
        secrets = [described.get(name) or FormField(name, f"The environment variable holding {name}.",
                                                    required=name in cls.required_secrets)
                   for name in dict.fromkeys((*cls.secret_names, *described))]
        return {"type": cls.type, "title": cls.title or cls.type, "dialect": cls.dialect,
                "capabilities": sorted(c.value for c in cls.capabilities),
                "options": [f.to_json() for f in cls.option_fields],
                "secrets": [f.to_json() for f in secrets]}

    @classmethod
    def validate_secrets(cls, secrets: dict[str, Any]) -> dict[str, str]:
        for key, value in secrets.items():
            if key not in cls.secret_names:
                raise ValidationError(
                    f"secrets.{key}",
                    f"{cls.type} sources have no secret named {key!r}",
                    hint=f"known secrets: {', '.join(cls.secret_names) or 'none'}",
                )
            env_var(value, f"secrets.{key}")
        for key in cls.required_secrets:
            if key not in secrets:
                raise ValidationError(
                    f"secrets.{key}",
                    f"{cls.type} sources need secrets.{key}: the name of an environment variable",
                    hint=f'e.g. "secrets": {{"{key}": "PG_DSN"}} with PG_DSN set in the server environment',
                )
        return dict(secrets)

    def secret(self, key: str) -> str:
        """Resolve a secret from the environment variable named in the source config."""
        var = self.secrets.get(key)
        if var is None:
            raise SourceError(
                f"source {self.name!r} has no secret {key!r} configured",
                hint=f"set secrets.{key} to the name of an environment variable",
            )
        value = self._environ.get(var)
        if not value:
            raise SourceError(
                f"source {self.name!r}: environment variable {var} is not set in the server's environment",
                hint=f"export {var}=... before starting Jupyter (the value is never stored by Agnes)",
                details={"source": self.name, "env_var": var},
            )
        return value

    def redact(self, text: str) -> str:
        """Remove every configured secret value from ``text``."""
        for var in self.secrets.values():
            value = self._environ.get(var)
            if value:
                text = text.replace(value, f"<{var}>")
        return text

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _unsupported(self, capability: Capability) -> NotSupported:
        return NotSupported(
            f"{self.type} sources do not support {capability.value}",
            details={"source": self.name, "capability": capability.value},
        )

    # -- the protocol -------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        """Check connectivity; return a few facts (e.g. server version). Raise SourceError."""
        raise self._unsupported(Capability.DISCOVER)

    def discover(self) -> list[DiscoveredTable]:
        raise self._unsupported(Capability.DISCOVER)

    def schema(self, ref: TableRef) -> pa.Schema:
        """The Arrow schema of one table."""
        raise self._unsupported(Capability.DISCOVER)

    def read(self, ref: TableRef, options: ReadOptions) -> Iterator[pa.RecordBatch]:
        raise self._unsupported(Capability.READ)

    def scan(self, sql: str, batch_size: int = 65_536, tables: Sequence[TableRef] = (),
             guard: ScanGuard | None = None) -> Iterator[pa.RecordBatch]:
        """Run validated SQL in the source. ``tables`` lists the physical tables it names, for
        connectors that must make them addressable first. A gated scan passes ``guard``: the
        connector then runs it in a session that can only read (and, where the source allows,
        resolves no unqualified name and stops at ``guard.timeout_s``)."""
        raise self._unsupported(Capability.REMOTE)

    def interrupt(self) -> None:
        """Stop the scan this connector runs, from another thread, as soon as the source allows
        (the iterator then raises). The default cannot, and does nothing."""

    def scan_billing(self) -> ScanBilling | None:
        """What the last :meth:`scan` read and billed, by the source's own account, once it has
        ended; None where the source bills nothing or does not say (the gate then charges the
        estimate)."""
        return None

    def estimate(self, sql: str, reads: list[TableRead]) -> ScanEstimate:
        """What ``sql`` (validated, physical names) would scan, without reading data."""
        raise self._unsupported(Capability.ESTIMATE)

    def metadata(self, ref: TableRef) -> TableMetadata | None:
        raise self._unsupported(Capability.METADATA)

    def column_stats(self, ref: TableRef) -> dict[str, ColumnStats]:
        """Per column (those the source has statistics for): min, max and null count, from the
        source's metadata alone (file footers, planner statistics), never by reading the data.
        Raises an AgnesError (NotFound, SourceError) like :meth:`schema`."""
        raise self._unsupported(Capability.STATS)

    def sample(self, ref: TableRef, n: int) -> pa.Table:
        """Up to ``n`` rows by the cheapest path the source has. The default reads the first
        batch and stops; connectors override it when the source can do better."""
        import pyarrow as pa

        batches = self.read(ref, ReadOptions(batch_size=n))
        try:
            first = next(iter(batches))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        return pa.Table.from_batches([first.slice(0, n)])

    def stream_table(self, ref: TableRef) -> StreamTable:
        """STREAM: the primary key and version column pushed changes of ``ref`` apply by."""
        raise self._unsupported(Capability.STREAM)

    def authenticate_push(self, headers: Mapping[str, str], body: bytes) -> None:
        """STREAM: check that a pushed request (a webhook) comes from the source — a signature of
        the raw ``body`` by a secret shared with it — or raise :class:`Unauthorized`."""
        raise self._unsupported(Capability.STREAM)

    def push_changes(self, headers: Mapping[str, str], body: bytes) -> list[StreamChange]:
        """STREAM: an authenticated pushed request as changes of tables (the runtime owns the
        files they are written to: see ``agnes_core.extract.stream``)."""
        raise self._unsupported(Capability.STREAM)

    def close(self) -> None:
        """Release connections; the default has none."""

    # -- bounded calls (see .calls) ---------------------------------------------------------

    def _call_started(self, call: calls.SourceCall) -> None:
        if self.spent:
            raise self._stopped_error(call.what, "spent", None)

    def _call_ended(self, call: calls.SourceCall) -> None:
        """In the call's own thread: a stopped call leaves its connections in no known state."""
        if call.stopped is not None:
            _raw(type(self), "close")(self)

    def _stopped_error(self, what: str, reason: str, timeout_s: float | None) -> SourceError:
        details = {"source": self.name, "call": what}
        if reason == "timeout":
            return SourceTimeout(
                f"{self.type} source {self.name!r} did not answer ({what}) within {timeout_s:g} s; the call was "
                "stopped",
                hint="The source is slow or unreachable: try again later, or ask an admin to test the source.",
                details={**details, "timeout_seconds": timeout_s})
        if reason == "spent":
            return SourceError(f"{self.type} source {self.name!r}: an earlier call was stopped and has not ended",
                               hint="Try again: a new connection is opened.", details=details)
        return SourceError(f"{self.type} source {self.name!r}: {what} was stopped ({reason})",
                           hint="The server is shutting down; try again once it is back." if reason == "shutdown"
                           else None, details={**details, "reason": reason})


def _raw(cls: type, name: str) -> Callable[..., Any]:
    """A method as the connector wrote it, without the bounding wrapper."""
    method = getattr(cls, name)
    return getattr(method, "__wrapped__", method)


def _bounded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Connector, *args: Any, **kwargs: Any) -> Any:
        bound = functools.partial(method, self, *args, **kwargs)
        if name != "metadata":
            return calls.run_bounded(self, name, bound, self.call_timeout_s)
        try:  # metadata providers never raise
            return calls.run_bounded(self, name, bound, self.call_timeout_s,
                                     failed=lambda meta: meta is not None and meta.error is not None)
        except SourceError as exc:
            return TableMetadata(error=self.redact(exc.message))

    call._agnes_bounded = True  # type: ignore[attr-defined]
    return call


def _streamed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Connector, *args: Any, **kwargs: Any) -> Any:
        return calls.tracked_stream(self, name, functools.partial(method, self, *args, **kwargs))

    call._agnes_bounded = True  # type: ignore[attr-defined]
    return call


def _closing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def close(self: Connector) -> None:
        if not self.spent:  # else the stopped call's thread closes it when it ends
            method(self)

    close._agnes_bounded = True  # type: ignore[attr-defined]
    return close


def _bound_methods(cls: type[Connector]) -> None:
    """Wrap the protocol methods ``cls`` defines itself (once)."""
    own = vars(cls)
    for name in (*BOUNDED_CALLS, *STREAM_CALLS, "close"):
        method = own.get(name)
        if method is None or getattr(method, "_agnes_bounded", False) or not callable(method):
            continue
        if name == "close":
            setattr(cls, name, _closing(method))
        elif name in BOUNDED_CALLS:
            setattr(cls, name, _bounded(name, method))
        else:
            setattr(cls, name, _streamed(name, method))


_bound_methods(Connector)
