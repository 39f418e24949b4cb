"""Streamed exports (CSV, JSON Lines, XLSX) in constant memory, and the spreadsheet-formula guard they share.

Rows are read in key-set pages (``WHERE key > :last ORDER BY key LIMIT n``) on a connection of their own,
opened deferred on SQLite so a long export never holds the write lock, and written out page by page.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.orm import aliased

from ..core import Actor
from ..custody.models import CustodyEvent
from ..custody.services import HASHED
from ..devices import filters
from ..devices.models import Device, StorageMedium
from ..devices.services import scoped
from ..distribution.models import Programme
from ..extensions import db
from ..intake.models import Batch, BatchExplanation, BatchReceipt, BatchStatus
from ..intake.services import batch_scope
from ..organisations.models import Organisation
from ..wiping.models import EvidenceFile, WipeRecord

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A cell a spreadsheet would run as a formula gets a leading apostrophe; other values are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


EVENT_COLUMNS = HASHED[:-1] + ("prev_hash", "hash")


@dataclass
class Export:
    """What one export streams: its columns and a function giving its rows, page after page."""

    name: str
    columns: tuple[str, ...]
    pages: Callable[[object, int], Iterator[list[tuple]]]
    # Optional: pages of (key, JSON text) rows, the JSON built by the database (events: the bulk of any audit).
    json_pages: Callable[[object, int], Iterator[list[tuple]]] | None = None


def _read_connection():
    conn = db.engine.connect()
    if conn.dialect.name == "sqlite":
        conn = conn.execution_options(sqlite_deferred=True)
    return conn


def _time_sql(column: str, dialect: str):
    """The canonical text of a UTC time column (the custody hash's own format), rendered by the database."""
    if dialect == "sqlite":
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" (naive UTC) on SQLite.
        return literal_column(f"replace({column}, ' ', 'T') || 'Z'")
    if dialect == "postgresql":
        return literal_column(f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""")
    return literal_column(column)


def _keyset(query: Select, key, chunk: int):
    """Page through ``query`` by ``key`` (which must be the query's first column)."""

    def pages(conn, _chunk=chunk):
        last = None
        while True:
            q = query if last is None else query.where(key > last)
            rows = conn.execute(q.order_by(key).limit(_chunk)).all()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    return pages


def _fmt_time(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


# ---------------------------------------------------------------- what can be exported


def events_export(*, actor: Actor, chunk: int, device: str | None = None, type: str | None = None,
                  since: dt.date | None = None, until: dt.date | None = None, dialect: str = "sqlite") -> Export:
    """Custody events in chain order with every hashed field, as stored (details: canonical JSON text).

    Auditors and admins get every event; other roles the events of devices in their scope.
    """
    cols, pairs = [], []
    for name in EVENT_COLUMNS:
        if name in ("server_time", "client_time"):
            expr = _time_sql(f"custody_events.{name}", dialect)
            cols.append(expr.label(name))
            pairs.append(f"'{name}', CASE WHEN custody_events.{name} IS NULL THEN NULL ELSE {expr.name} END")
        else:
            cols.append(getattr(CustodyEvent, name))
            pairs.append(f"'{name}', custody_events.{name}")
    conditions = []
    if device:
        conditions.append(CustodyEvent.device_tag == device.strip().upper())
    if type:
        conditions.append(CustodyEvent.type == type)
    if since:
        conditions.append(CustodyEvent.server_time >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until:
        conditions.append(CustodyEvent.server_time < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(),
                                                                         dt.UTC))
    if actor.role not in ("admin", "auditor"):
        conditions.append(CustodyEvent.device_id.in_(scoped(select(Device.id), actor)))
    query = select(*cols).where(*conditions)
    json_pages = None
    if dialect in ("sqlite", "postgresql"):
        built = (f"json_object({', '.join(pairs)})" if dialect == "sqlite"
                 else f"json_build_object({', '.join(pairs)})::text")
        json_query = select(CustodyEvent.seq, literal_column(built)).where(*conditions)
        json_pages = _keyset(json_query, CustodyEvent.seq, chunk)
    return Export("events", EVENT_COLUMNS, _keyset(query, CustodyEvent.seq, chunk), json_pages)


DEVICE_COLUMNS = ("id", "tag", "type", "brand", "model", "serial", "imei", "state", "state_since", "verdict", "grade",
                  "donor", "custodian", "batch_id", "batch", "programme", "partner", "recycler", "loan",
                  "expected_return_on", "created_at")


def devices_export(f, *, actor: Actor, rules: list[dict], chunk: int) -> Export:
    """Devices with their current state, filtered exactly like the device list (DeviceFilter)."""
    donor, custodian, partner, recycler = (aliased(Organisation) for _ in range(4))
    query = (select(Device.id, Device.tag, Device.type, Device.brand, Device.model, Device.serial, Device.imei,
                    Device.state, Device.state_since, Device.verdict, Device.grade, donor.name, custodian.name,
                    Device.batch_id, Batch.name, Programme.name, partner.name, recycler.name, Device.loan,
                    Device.expected_return_on, Device.created_at)
             .join(donor, donor.id == Device.donor_organisation_id)
             .outerjoin(custodian, custodian.id == Device.custodian_organisation_id)
             .outerjoin(partner, partner.id == Device.partner_organisation_id)
             .outerjoin(recycler, recycler.id == Device.recycler_organisation_id)
             .outerjoin(Batch, Batch.id == Device.batch_id)
             .outerjoin(Programme, Programme.id == Device.programme_id))
    query = filters.apply(scoped(query, actor), f, rules=rules)
    return Export("devices", DEVICE_COLUMNS, _keyset(query, Device.id, chunk))


WIPE_COLUMNS = ("id", "device_tag", "medium_serial", "medium_kind", "capacity_bytes", "result", "nist_category",
                "method", "tool", "tool_version", "passes", "pattern", "verification", "started_at", "ended_at",
                "bytes_erased", "operator", "source", "evidence_sha256", "evidence_filename", "recorded_at",
                "verified_at")


def wipes_export(f, *, actor: Actor, rules: list[dict], chunk: int) -> Export:
    """Wipe records with their medium and evidence file hash, for the devices the device filter selects."""
    w = WipeRecord
    query = (select(w.id, Device.tag, StorageMedium.serial, StorageMedium.kind, StorageMedium.capacity_bytes,
                    w.result, w.nist_category, w.method, w.tool, w.tool_version, w.passes, w.pattern, w.verification,
                    w.started_at, w.ended_at, w.bytes_erased, w.operator_name, w.source, EvidenceFile.sha256,
                    EvidenceFile.filename, w.recorded_at, w.verified_at)
             .join(Device, Device.id == WipeRecord.device_id)
             .join(StorageMedium, StorageMedium.id == WipeRecord.medium_id)
             .outerjoin(EvidenceFile, EvidenceFile.id == WipeRecord.evidence_id))
    query = filters.apply(scoped(query, actor), f, rules=rules)
    return Export("wipes", WIPE_COLUMNS, _keyset(query, WipeRecord.id, chunk))


BATCH_COLUMNS = ("id", "name", "donor", "status", "pickup_date", "declared", "declared_counts", "logged", "received",
                 "explained_discrepancies", "created_at", "collected_at", "received_at", "closed_at", "closing_note")


def batches_export(*, actor: Actor, chunk: int, status: str | None = None, donor: int | None = None) -> Export:
    """Batches with declared, logged and received counts (grouped sub-queries, no query per batch)."""
    logged = select(Device.batch_id.label("b"), func.count().label("n")).group_by(Device.batch_id).subquery()
    got = select(BatchReceipt.batch_id.label("b"), func.count().label("n")).group_by(BatchReceipt.batch_id).subquery()
    why = select(BatchExplanation.batch_id.label("b"), func.count().label("n")) \
        .group_by(BatchExplanation.batch_id).subquery()
    query = (select(Batch.id, Batch.name, Organisation.name, Batch.status, Batch.pickup_date,
                    literal_column("NULL"), Batch.declared_counts, func.coalesce(logged.c.n, 0),
                    func.coalesce(got.c.n, 0), func.coalesce(why.c.n, 0), Batch.created_at, Batch.collected_at,
                    Batch.received_at, Batch.closed_at, Batch.closing_note)
             .join(Organisation, Organisation.id == Batch.donor_organisation_id)
             .outerjoin(logged, logged.c.b == Batch.id).outerjoin(got, got.c.b == Batch.id)
             .outerjoin(why, why.c.b == Batch.id))
    query = batch_scope(query, actor)
    if status:
        query = query.where(Batch.status == BatchStatus(status))
    if donor:
        query = query.where(Batch.donor_organisation_id == donor)
    base = _keyset(query, Batch.id, chunk)

    def pages(conn, _chunk=chunk):
        for rows in base(conn):
            out = []
            for r in rows:
                r = list(r)
                counts = r[6] if isinstance(r[6], dict) else json.loads(r[6] or "{}")
                r[5] = sum(int(v or 0) for v in counts.values())
                r[6] = json.dumps(counts, sort_keys=True)
                out.append(tuple(r))
            yield out

    return Export("batches", BATCH_COLUMNS, pages)


# ---------------------------------------------------------------- writers


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "value"):  # enums stored by value
        return value.value
    if isinstance(value, dt.datetime):
        return _fmt_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _plain(value)


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def _csv_cell(value):
    """_plain then neutralise, in one call: a million-row export makes twenty million of them."""
    cls = value.__class__
    if cls is str:
        return "'" + value if value[:1] in _FORMULA_FIRST else value
    if cls is int or value is None:
        return "" if value is None else value
    return neutralise(_plain(value))


def stream_csv(export: Export) -> Iterator[str]:
    """CSV with a header line, every formula-like cell neutralised; one string per page of rows."""
    conn = _read_connection()
    try:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(export.columns)
        yield buf.getvalue()
        for rows in export.pages(conn):
            buf.seek(0)
            buf.truncate()
            writer.writerows([[_csv_cell(v) for v in row] for row in rows])
            yield buf.getvalue()
    finally:
        conn.close()


def trailer_line(export_name: str, rows: int) -> str:
    """The last line of every JSON Lines export: an export without it was cut short."""
    return json.dumps({"trailer": {"export": export_name, "rows": rows, "complete": True}}) + "\n"


def stream_jsonl(export: Export) -> Iterator[str]:
    """One JSON object per line, then the trailer line with the row count.

    Values are exact (no formula guard): events keep what their hash covers.
    """
    conn = _read_connection()
    dumps, cols = json.dumps, export.columns
    count = 0
    try:
        if export.json_pages is not None:
            for rows in export.json_pages(conn):
                count += len(rows)
                yield "\n".join([r[1] for r in rows]) + "\n"
        else:
            for rows in export.pages(conn):
                count += len(rows)
                yield "".join(dumps(dict(zip(cols, map(_json_value, row), strict=False)), ensure_ascii=False) + "\n"
                              for row in rows)
    finally:
        conn.close()
    yield trailer_line(export.name, count)


XLSX_MAX_ROWS = 1_048_575  # a worksheet's last row, minus the header


def stream_xlsx(export: Export) -> Iterator[bytes]:
    """An XLSX workbook written in openpyxl's write-only mode (rows go to disk, not memory), then streamed."""
    from openpyxl import Workbook  # here: openpyxl (0.1 s to load) only for an XLSX export

    conn = _read_connection()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=export.name[:31])
    ws.append(list(export.columns))
    written = 0
    try:
        for rows in export.pages(conn):
            for row in rows:
                if written >= XLSX_MAX_ROWS:
                    break
                ws.append([neutralise(_plain(v)) for v in row])
                written += 1
            if written >= XLSX_MAX_ROWS:  # a worksheet is full: stop reading too
                break
    finally:
        conn.close()
    with tempfile.TemporaryFile() as tmp:
        wb.save(tmp)
        tmp.seek(0)
        while True:
            block = tmp.read(256 * 1024)
            if not block:
                return
            yield block


def table_csv(columns, rows) -> str:
    """A small in-memory table (dashboard figures) as CSV, with the same formula guard."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[neutralise(_plain(v)) for v in row] for row in rows])
    return buf.getvalue()
