"""Excel import of a unit's enterprise list: check the file, stage a row-by-row preview, confirm.

Nothing reaches the register until the user confirms; the confirmation re-validates every staged
row against the register as it is then and applies all of them in the caller's transaction.
Rows are streamed from the workbook within limits (core.spreadsheets.read_sheet) and handled in
chunks, so memory stays bounded. Staging parses with no transaction open, classifies in a read
transaction and only then writes, briefly (see stage()).
"""

import json
import logging
import os
import secrets
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.parsers.expat import ExpatError

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from taskflow.core import audit, clock, uploads
from taskflow.core import permissions as perm
from taskflow.core.db import read_transaction, write_transaction
from taskflow.core.errors import Refusal
from taskflow.core.spreadsheets import (
    LimitExceeded,
    ReadLimits,
    WorkbookUnreadable,
    build_workbook,
    check_ratio,
    read_sheet,
    sheet_rows_hint,
)
from taskflow.enterprises import creditcode, operations
from taskflow.enterprises.models import (
    ClaimConflict,
    ClaimState,
    Enterprise,
    EnterpriseImport,
    EnterpriseImportRow,
    ImportOutcome,
    ImportState,
    Source,
)
from taskflow.enterprises.operations import attribution_problem
from taskflow.extensions import db
from taskflow.units.models import Unit

log = logging.getLogger("taskflow.enterprises.import")

CHUNK = 500
Progress = Callable[[int], None] | None

# (key, Chinese header, English header, required)
COLUMNS = (
    ("name", "企业名称", "Enterprise name", True),
    ("credit_code", "统一社会信用代码", "Credit code", True),
    ("source", "来源（存量/培育/招引）", "Source (stock/cultivated/attracted)", True),
    ("tech_in_library_on", "科技型企业入库日期", "Tech-based in-library date", False),
    ("high_tech_cert_no", "高新技术企业证书编号", "High-tech certificate number", False),
    ("high_tech_cert_on", "高新技术企业认定日期", "High-tech certification date", False),
    ("specialised_sme", "专精特新（是/否）", "Specialised SME (yes/no)", False),
)
LABELS = {key: _l(english) for key, _zh, english, _req in COLUMNS}
COMPARED = ("name", "source", "tech_in_library_on", "high_tech_cert_no", "high_tech_cert_on",
            "specialised_sme")
DATE_KEYS = ("tech_in_library_on", "high_tech_cert_on")
SOURCE_WORDS = {
    "存量": Source.STOCK, "stock": Source.STOCK,
    "培育": Source.CULTIVATED, "cultivated": Source.CULTIVATED,
    "招引": Source.ATTRACTED, "attracted": Source.ATTRACTED,
}
TRUE_WORDS = {"是", "yes", "y", "true", "1", "√", "✓"}
FALSE_WORDS = {"否", "no", "n", "false", "0", ""}
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class FileRefused(Refusal, ValueError):
    """The uploaded file as a whole cannot be imported; the message says why."""


class ImportChanged(RuntimeError):
    """The register changed since the preview: the staged outcomes were refreshed instead."""

    def __init__(self, rows: int):
        super().__init__(rows)
        self.rows = rows


# ---------------------------------------------------------------- the template


def _header_cell(key: str) -> str:
    for k, zh, en, _req in COLUMNS:
        if k == key:
            return zh
    raise KeyError(key)


def template_bytes() -> bytes:
    """The workbook units fill in: the header row and one example row."""
    header = [zh for _k, zh, _en, _r in COLUMNS]
    example = ["重庆示例科技有限公司", creditcode.generate_unique(1, seed=7)[0], "培育",
               date(2023, 5, 10), "GR202351100123", date(2023, 11, 20), "否"]
    notes = [
        [_("One enterprise per row; the first row is the header. Keep the column titles.")],
        [_("Credit code: the 18-character unified social credit code; it is checked.")],
        [_("Source: 存量 (2022 stock), 培育 (cultivated) or 招引 (attracted).")],
        [_("Dates as dates or YYYY-MM-DD. An empty cell keeps what the register has.")],
        [_("A high-tech certificate needs its number and its date; it is valid for 3 years.")],
        [_("An enterprise registered to another unit becomes a claim for the office to decide.")],
    ]
    return build_workbook([
        (_("Enterprises"), header, [example]),
        (_("Instructions"), [_("How to fill in")], notes),
    ])


# ---------------------------------------------------------------- the file


def max_bytes() -> int:
    return int(current_app.config["ENTERPRISE_IMPORT_MAX_MB"]) * 1024 * 1024


def read_limits() -> ReadLimits:
    """The reading limits of an uploaded list, from the settings (config.py)."""
    config = current_app.config
    return ReadLimits(
        max_rows=int(config["ENTERPRISE_IMPORT_MAX_ROWS"]),
        max_columns=int(config["IMPORT_MAX_COLUMNS"]),
        max_cells_per_row=int(config["IMPORT_MAX_CELLS_PER_ROW"]),
        max_cells=int(config["IMPORT_MAX_CELLS"]),
        max_row_elements=int(config["IMPORT_MAX_ROW_ELEMENTS"]),
        max_shared_strings=int(config["IMPORT_MAX_SHARED_STRINGS"]),
        max_shared_string_bytes=int(config["IMPORT_MAX_SHARED_STRINGS_MB"]) * 1048576,
        max_part_bytes=int(config["IMPORT_MAX_PART_MB"]) * 1048576,
        max_ratio=int(config["ZIP_MAX_RATIO"]),
    )


def limit_message(exc: LimitExceeded) -> str:
    """The form error for a workbook over one of its reading limits: it names the limit."""
    n = exc.value
    messages = {
        "max_ratio": lambda: _("A part of the workbook is compressed more than %(n)s to 1 (the "
                               "limit): such a file is refused.", n=n),
        "max_part_bytes": lambda: _("A part of the workbook unpacks to more than %(mb)s MB (the "
                                    "limit); split the list.", mb=n // 1048576),
        "max_rows": lambda: _("The list has more than %(n)s rows; split it.", n=n),
        "max_columns": lambda: _("A row has a value beyond column %(n)s (the limit of columns); "
                                 "delete the extra columns.", n=n),
        "max_cells_per_row": lambda: _("A row has more than %(n)s cells (the limit per row): "
                                       "such a file is refused.", n=n),
        "max_cells": lambda: _("The sheet has more than %(n)s cells (the limit); split the "
                               "list.", n=n),
        "max_row_elements": lambda: _("The sheet has more than %(n)s rows, empty ones included "
                                      "(the limit); delete the empty rows.", n=n),
        "max_shared_strings": lambda: _("The workbook has more than %(n)s distinct texts (the "
                                        "limit); split the list.", n=n),
        "max_shared_string_bytes": lambda: _("The workbook's texts take more than %(mb)s MB "
                                             "(the limit); split the list.", mb=n // 1048576),
        "max_cell_chars": lambda: _("A cell holds more than %(n)s characters (Excel's limit).",
                                    n=n),
        "max_styles": lambda: _("The workbook has more than %(n)s cell formats (Excel's limit).",
                                n=n),
    }
    return messages[exc.limit]()


def check_file(path: Path) -> None:
    """Refuse what is not a sane .xlsx: size, magic number, zip structure, zip-bomb limits
    (declared sizes and each part's compression ratio; read_sheet checks what really unpacks)."""
    size = path.stat().st_size
    limit = max_bytes()
    if size == 0:
        raise FileRefused(_("The file is empty."))
    if size > limit:
        raise FileRefused(_("The file is %(size)s MB; at most %(limit)s MB can be imported.",
                            size=round(size / 1048576, 1), limit=limit // 1048576))
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(OLE_MAGIC):
        raise FileRefused(_("This is an old .xls workbook: save it as .xlsx in Excel and upload it "
                            "again."))
    if not head.startswith(XLSX_MAGIC):
        raise FileRefused(_("This is not an Excel (.xlsx) file."))
    limits = read_limits()
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = {e.filename for e in entries}
            if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
                raise FileRefused(_("This zip file is not an Excel (.xlsx) workbook."))
            if len(entries) > current_app.config["ZIP_MAX_ENTRIES"]:
                raise FileRefused(_("The workbook has too many parts to be read safely."))
            unpacked = sum(e.file_size for e in entries)
            if unpacked > current_app.config["ZIP_MAX_UNCOMPRESSED_MB"] * 1048576:
                raise FileRefused(_("The workbook unpacks to more than %(mb)s MB; split it.",
                                    mb=current_app.config["ZIP_MAX_UNCOMPRESSED_MB"]))
            for entry in entries:
                check_ratio(entry, limits)
    except LimitExceeded as exc:
        raise FileRefused(limit_message(exc)) from None
    except zipfile.BadZipFile:
        raise FileRefused(_("The Excel file is damaged and cannot be read.")) from None


def check_archive(path: Path) -> None:
    """The archive check every uploaded workbook passes (core.uploads, as for evidence): unsafe
    paths, encrypted parts, macros and programs, nested archives, links to other workbooks.
    It inflates every part, so stage() runs it once the bounded parse has accepted the sheet."""
    with path.open("rb") as stream:
        try:
            uploads.validate_upload(_NamedStream(stream), max_bytes=max_bytes(),
                                    allowed={"xlsx"}).close()
        except uploads.UploadRejected as exc:
            raise FileRefused(str(exc)) from None


@dataclass
class _NamedStream:
    """An open workbook as core.uploads reads an upload (.filename and .stream)."""

    stream: object
    filename: str = "list.xlsx"


# ---------------------------------------------------------------- rows


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\u3000", " ").strip()


def parse_date(value) -> date | None:
    """A cell as a date: an Excel date, an Excel serial number, or YYYY-MM-DD / YYYY/M/D / …"""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and 20000 <= value <= 80000:
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).date()
    text = _text(value)
    if not text:
        return None
    for sep in ("/", ".", "年"):
        text = text.replace(sep, "-")
    text = text.replace("月", "-").replace("日", "").strip("-")
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        year, month, day = (int(part) for part in text.split("-"))
        return date(year, month, day)
    except ValueError:
        raise ValueError(value) from None


@dataclass
class ParsedRow:
    """A row as values, or the reasons it cannot be imported."""

    number: int
    data: dict
    errors: list[str]

    @property
    def code(self) -> str:
        return self.data.get("credit_code", "")


def map_header(cells: list) -> dict[str, int]:
    """{column key: index} from the header row; FileRefused naming a missing required column."""
    wanted = {}
    for key, zh, en, _req in COLUMNS:
        for variant in (zh, en, zh.split("（")[0], en.split(" (")[0]):
            wanted[variant.lower()] = key
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        title = _text(cell).lstrip("*").strip().lower()
        key = wanted.get(title)
        if key and key not in found:
            found[key] = index
    missing = [zh for key, zh, _en, required in COLUMNS if required and key not in found]
    if missing:
        raise FileRefused(_("The header row lacks the column(s): %(columns)s. Use the template.",
                            columns="、".join(missing)))
    return found


def parse_row(number: int, cells: list, columns: dict[str, int]) -> ParsedRow:
    """Check one row's cells; each problem names its column."""
    def cell(key):
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    data: dict = {}
    errors: list[str] = []
    data["name"] = _text(cell("name"))[:200]
    data["credit_code"] = creditcode.normalise(_text(cell("credit_code")))
    problem = creditcode.problem(data["credit_code"])
    if problem is not None:
        errors.append(problem.message())
    source_text = _text(cell("source")).lower()
    data["source"] = SOURCE_WORDS.get(source_text)
    if data["source"] is None:
        errors.append(_("Source “%(value)s” is not one of 存量, 培育, 招引.",
                        value=_text(cell("source"))))
    for key in DATE_KEYS:
        try:
            value = parse_date(cell(key))
        except ValueError:
            errors.append(_("%(column)s: “%(value)s” is not a date.",
                            column=_header_cell(key), value=_text(cell(key))))
            value = None
        if value is not None and value.year < 1990:
            errors.append(_("%(column)s: %(date)s is too early.",
                            column=_header_cell(key), date=value.isoformat()))
        data[key] = value
    data["high_tech_cert_no"] = _text(cell("high_tech_cert_no"))[:40] or None
    flag = _text(cell("specialised_sme")).lower()
    if "specialised_sme" not in columns or flag == "":
        data["specialised_sme"] = None  # keep what the register has
    elif flag in TRUE_WORDS:
        data["specialised_sme"] = True
    elif flag in FALSE_WORDS:
        data["specialised_sme"] = False
    else:
        errors.append(_("专精特新: “%(value)s” is neither 是 nor 否.", value=flag))
        data["specialised_sme"] = None
    if not errors:
        # Once every cell reads, the register's own rules: the form's refusals, word for word.
        errors.extend(operations.data_problems(data))
    return ParsedRow(number, data, errors)


def _jsonable_data(data: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()}


def _from_json(data: dict) -> dict:
    out = dict(data)
    for key in DATE_KEYS:
        if out.get(key):
            out[key] = date.fromisoformat(out[key])
    return out


# ---------------------------------------------------------------- classification


EXISTING_COLUMNS = (Enterprise.id, Enterprise.credit_code, Enterprise.unit_id, Enterprise.name,
                    Enterprise.source, Enterprise.tech_in_library_on, Enterprise.high_tech_cert_no,
                    Enterprise.high_tech_cert_on, Enterprise.high_tech_first_on,
                    Enterprise.high_tech_expires_on,
                    Enterprise.specialised_sme, Enterprise.version_id,
                    # the rest of the editable fields: an edit is checked as a whole
                    Enterprise.tech_removed_on, Enterprise.status, Enterprise.closed_on)


def _existing(codes: list[str]) -> dict[str, dict]:
    if not codes:
        return {}
    rows = db.session.execute(
        select(*EXISTING_COLUMNS, Unit.name.label("unit_name"))
        .join(Unit, Unit.id == Enterprise.unit_id)
        .where(Enterprise.credit_code.in_(codes))
    ).mappings()
    return {row["credit_code"]: dict(row) for row in rows}


def _pending_claims(enterprise_ids: list[int], unit_id: int) -> set[int]:
    if not enterprise_ids:
        return set()
    return set(db.session.scalars(select(ClaimConflict.enterprise_id).where(
        ClaimConflict.enterprise_id.in_(enterprise_ids),
        ClaimConflict.claimant_unit_id == unit_id, ClaimConflict.state == ClaimState.OPEN)))


def _display(value) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _changes(data: dict, current: dict) -> dict:
    """{key: (old, new)} for the non-empty cells that differ from the register."""
    changes = {}
    for key in COMPARED:
        new = data.get(key)
        if new is None or new == "":
            continue
        if new != current.get(key):
            changes[key] = (current.get(key), new)
    return changes


def _edit(data: dict) -> dict:
    """The fields a row changes: its non-empty compared cells (an empty cell keeps the value)."""
    return {key: data[key] for key in COMPARED if data.get(key) not in (None, "")}


def classify(rows: list[ParsedRow], unit_id: int, *, register: dict | None = None
             ) -> list[tuple[str, str]]:
    """(outcome, message) for each parsed row of a chunk, against the register now (2 queries).

    `register`, when given, receives what was read: {"existing": …, "pending": …}."""
    existing = _existing([r.code for r in rows if not r.errors])
    pending = _pending_claims([e["id"] for e in existing.values()], unit_id)
    if register is not None:
        register.update(existing=existing, pending=pending)
    result = []
    for row in rows:
        if row.errors:
            result.append((ImportOutcome.INVALID, "；".join(row.errors)))
            continue
        current = existing.get(row.code)
        if current is None:
            result.append((ImportOutcome.NEW, ""))
        elif current["unit_id"] != unit_id:
            if current["id"] in pending:
                message = _("Registered to %(unit)s; your unit's claim is already waiting for the "
                            "office.", unit=current["unit_name"])
            else:
                message = _("Registered to %(unit)s: confirming opens a claim for the office to "
                            "decide; it is not counted twice.", unit=current["unit_name"])
            result.append((ImportOutcome.CONFLICT, message))
        else:
            changes = _changes(row.data, current)
            problems = operations.data_problems(operations.merged_data(current, _edit(row.data)))
            if problems:
                result.append((ImportOutcome.INVALID, "；".join(problems)))
            elif changes:
                result.append((ImportOutcome.CHANGED, "；".join(
                    f"{LABELS[k]}: {_display(old)} → {_display(new)}"
                    for k, (old, new) in changes.items())))
            else:
                result.append((ImportOutcome.UNCHANGED, ""))
    return result


# ---------------------------------------------------------------- staging


def _chunks(iterable: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count_rows(path: Path) -> int | None:
    """The sheet's row count from its dimension, for a progress bar (None if unknown)."""
    try:
        return sheet_rows_hint(path, read_limits())
    except (LimitExceeded, WorkbookUnreadable, zipfile.BadZipFile, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Target:
    """What staging needs of the unit and the uploader, read before the file is parsed."""

    unit_id: int
    name: str
    kind: str
    user_id: int | None


def _spool():
    """A temporary file for rows between the phases of staging: in memory while small, then on
    disk under DATA_DIR/tmp, unlinked at once (a killed worker leaves nothing behind)."""
    directory = Path(current_app.config["DATA_DIR"]) / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    return tempfile.SpooledTemporaryFile(max_size=1024 * 1024, mode="w+b", dir=directory)


def _write_chunk(spool, rows: list) -> None:
    spool.write(json.dumps(rows, ensure_ascii=False).encode("utf-8") + b"\n")


def _read_chunks(spool) -> Iterator[list]:
    spool.seek(0)
    for line in spool:
        yield json.loads(line)


def _parse_into(path: Path, target: Target, spool, progress: Progress) -> int:
    """Read and check every row of the workbook into `spool` (no database); returns how many."""
    limits = read_limits()
    seen: dict[str, int] = {}
    rows = read_sheet(path, limits)
    header_number, header = next(((n, r) for n, r in rows if any(_text(c) for c in r)),
                                 (None, None))
    if header is None:
        raise FileRefused(_("The workbook's first sheet is empty."))
    columns = map_header(header)

    def parsed():
        for number, cells in rows:
            if not any(_text(c) for c in cells):
                continue
            row = parse_row(number, cells, columns)
            if not row.errors:
                # Departments count attracted enterprises only (the target table's 说明).
                problem = attribution_problem(target, row.data.get("source"))
                if problem is not None:
                    row.errors.append(problem)
            if not row.errors and row.code:
                first = seen.get(row.code)
                if first is not None:
                    row.errors.append(_("The same credit code is already on row %(row)s.",
                                        row=first))
                else:
                    seen[row.code] = number
            yield row

    total = 0
    for chunk in _chunks(parsed(), CHUNK):
        _write_chunk(spool, [[r.number, _jsonable_data(r.data), r.errors] for r in chunk])
        total += len(chunk)
        if progress:
            progress(len(chunk))
    return total


def _classify_into(parsed_spool, target: Target, staged_spool) -> dict:
    """Classify the parsed rows against the register (reads only); returns the counts."""
    counts = {o.value: 0 for o in ImportOutcome}
    for chunk in _read_chunks(parsed_spool):
        rows = [ParsedRow(number, _from_json(data), errors) for number, data, errors in chunk]
        outcomes = classify(rows, target.unit_id)
        # Rows as the INSERT's parameters, JSON already encoded: the write phase only executes.
        _write_chunk(staged_spool, [
            [row.number, row.code[:40], row.data.get("name", "")[:200], outcome, message,
             json.dumps(_jsonable_data(row.data))]
            for row, (outcome, message) in zip(rows, outcomes, strict=True)])
        for outcome, _message in outcomes:
            counts[outcome] += 1
    return counts


def stage(path: Path, filename: str, unit: Unit, user, *, progress: Progress = None
          ) -> EnterpriseImport:
    """Check the file and stage every row with its outcome; writes nothing to the register.

    Call it before writing anything: it ends the caller's transaction (which must only have
    read), parses the file with no transaction open, classifies the rows in a read transaction
    and stores them in a short write transaction, left open for the caller to commit. So a
    long parse never holds SQLite's write lock (other units' writes go on meanwhile)."""
    target = Target(unit.id, unit.name, unit.kind, getattr(user, "id", None))
    db.session.rollback()
    started = time.monotonic()
    check_file(path)
    with _spool() as parsed, _spool() as staged:
        try:
            total = _parse_into(path, target, parsed, progress)
        except FileRefused:
            raise
        except LimitExceeded as exc:
            log.warning("import of %s refused after %.1f s: %s", filename,
                        time.monotonic() - started, exc)
            raise FileRefused(limit_message(exc)) from None
        except (zipfile.BadZipFile, WorkbookUnreadable, ExpatError, KeyError, OSError,
                ValueError) as exc:
            raise FileRefused(_("The Excel file could not be read (%(error)s).",
                                error=type(exc).__name__)) from None
        if total == 0:
            raise FileRefused(_("The list has a header but no enterprise rows."))
        check_archive(path)
        parsed_at = time.monotonic()
        with read_transaction():
            counts = _classify_into(parsed, target, staged)
            db.session.rollback()
        classified_at = time.monotonic()
        with write_transaction():
            batch = _store(staged, counts, target, filename, user)
        log.info("staged %s for %s: %d rows; parsed in %.1f s, classified in %.1f s, stored in "
                 "%.2f s", filename, target.name, total, parsed_at - started,
                 classified_at - parsed_at, time.monotonic() - classified_at)
        return batch


def _store(staged_spool, counts: dict, target: Target, filename: str, user) -> EnterpriseImport:
    """The write phase of stage(): re-check the unit and the uploader's right, insert in batches."""
    unit = db.session.get(Unit, target.unit_id)
    # The right to import may have been withdrawn while the file was being read.
    perm.require(unit is not None and (user is None or perm.can_edit_enterprise(user, unit.id)))
    batch = EnterpriseImport(token=secrets.token_urlsafe(24), user_id=target.user_id,
                             unit_id=unit.id, filename=(filename or "upload.xlsx")[:255])
    db.session.add(batch)
    db.session.flush()
    # A plain executemany of prepared parameters: the write lock is held ~5 times shorter than
    # through SQLAlchemy's per-row parameter processing (20,000 rows in a fraction of a second).
    connection = db.session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    table = EnterpriseImportRow.__tablename__
    statement = (f"INSERT INTO {table} (import_id, row_number, credit_code, name, outcome, "
                 f"message, data) VALUES ({', '.join([mark] * 7)})")
    for chunk in _read_chunks(staged_spool):
        connection.exec_driver_sql(statement, [(batch.id, *row) for row in chunk])
    batch.counts = counts
    audit.record(user, "enterprise.import_stage", batch, after={"file": batch.filename,
                                                                "unit": unit.name, **counts})
    return batch


def save_upload(storage, directory: Path) -> Path:
    """Write an uploaded file under a random name in DATA_DIR/imports (the caller removes it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{secrets.token_hex(16)}.xlsx"
    storage.save(path)
    return path


def stage_upload(storage, unit: Unit, user) -> EnterpriseImport:
    """Stage a werkzeug FileStorage; the temporary copy is removed whatever happens (and, should
    the worker be killed first, by sweep_temp_files)."""
    path = save_upload(storage, Path(current_app.config["DATA_DIR"]) / "imports")
    storage.close()  # werkzeug's spooled copy of the upload is not needed any more
    try:
        return stage(path, storage.filename or "", unit, user)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


# ---------------------------------------------------------------- confirm


def _staged_chunks(batch: EnterpriseImport) -> Iterator[list]:
    """The staged rows in chunks (plain rows, not ORM objects: nothing piles up in the session)."""
    last = 0
    columns = (EnterpriseImportRow.id, EnterpriseImportRow.row_number,
               EnterpriseImportRow.outcome, EnterpriseImportRow.message, EnterpriseImportRow.data)
    while True:
        chunk = db.session.execute(
            select(*columns)
            .where(EnterpriseImportRow.import_id == batch.id, EnterpriseImportRow.id > last)
            .order_by(EnterpriseImportRow.id).limit(CHUNK)
        ).all()
        if not chunk:
            return
        yield chunk
        last = chunk[-1].id


def _parsed(staged) -> ParsedRow:
    errors = [staged.message] if staged.outcome == ImportOutcome.INVALID else []
    return ParsedRow(staged.row_number, _from_json(staged.data or {}), errors)


def refresh(batch: EnterpriseImport) -> dict:
    """Re-classify the staged rows against the register now; returns the new counts."""
    counts = {o.value: 0 for o in ImportOutcome}
    for chunk in _staged_chunks(batch):
        outcomes = classify([_parsed(s) for s in chunk], batch.unit_id)
        db.session.execute(update(EnterpriseImportRow), [
            {"id": s.id, "outcome": o, "message": m} for s, (o, m) in zip(chunk, outcomes)])
        for outcome, _m in outcomes:
            counts[outcome] += 1
    batch.counts = counts
    return counts


def confirm(batch: EnterpriseImport, actor, *, progress: Progress = None) -> dict:
    """Apply every staged row (new, changed, claims) after re-validating it; the caller commits.

    Raises FileRefused when invalid rows remain and ImportChanged when the register changed since
    the preview (then the caller rolls back and calls refresh())."""
    if batch.state != ImportState.PREVIEW:
        raise FileRefused(_("This import has already been confirmed or discarded."))
    if batch.counts.get(ImportOutcome.INVALID, 0):
        raise FileRefused(_("Correct the invalid rows and upload the file again: nothing was "
                            "imported."))
    now = clock.utcnow()
    unit = batch.unit
    imported_note = _("Imported from %(file)s", file=batch.filename)[:500]
    claimed_note = _("Claimed by %(unit)s", unit=unit.name)[:500]
    marker = {"import": batch.token[:8]}
    counts = {o.value: 0 for o in ImportOutcome}
    for chunk in _staged_chunks(batch):
        parsed = [_parsed(s) for s in chunk]
        register: dict = {}
        outcomes = classify(parsed, batch.unit_id, register=register)
        drift = sum(1 for s, (o, _m) in zip(chunk, outcomes) if s.outcome != o)
        if drift:
            raise ImportChanged(drift)
        existing, pending = register["existing"], register["pending"]
        new_rows, edits, claims = [], [], []
        for row, (outcome, message) in zip(parsed, outcomes):
            counts[outcome] += 1
            data = row.data
            if outcome == ImportOutcome.NEW:
                new_rows.append(data)
            elif outcome == ImportOutcome.CHANGED:
                # Every compared field, an empty cell keeping the register's value (as before).
                current = existing[row.code]
                edits.append((current, {k: current[k] for k in COMPARED} | _edit(data), message))
            elif outcome == ImportOutcome.CONFLICT:
                current = existing[row.code]
                if current["id"] in pending:
                    continue
                pending.add(current["id"])
                claims.append((current, data, _("Excel import %(file)s, row %(row)s",
                                                file=batch.filename, row=row.number)))
        # The register's own operations: the form's checks apply to every row.
        try:
            operations.register_enterprises(new_rows, unit, actor, note=imported_note,
                                            changes=marker)
            operations.update_enterprises(edits, unit, actor, changes=marker)
        except operations.EnterpriseError as exc:
            raise FileRefused(str(exc)) from None
        operations.open_claims(claims, unit, actor, note=claimed_note)
        if progress:
            progress(len(chunk))
    batch.state = ImportState.CONFIRMED
    batch.confirmed_at = now
    batch.counts = counts
    audit.record(actor, "enterprise.import", batch, after={"file": batch.filename, **counts},
                 summary=f"{batch.unit.name}: {batch.filename}")
    return counts


def discard(batch: EnterpriseImport, actor) -> None:
    """Drop a staged import without touching the register."""
    if batch.state != ImportState.PREVIEW:
        raise FileRefused(_("This import has already been confirmed or discarded."))
    batch.state = ImportState.DISCARDED
    db.session.execute(EnterpriseImportRow.__table__.delete().where(
        EnterpriseImportRow.import_id == batch.id))
    audit.record(actor, "enterprise.import_discard", batch, summary=batch.filename)


def purge_stale(today_utc: datetime, *, days: int = 7) -> int:
    """Drop previews nobody confirmed within `days` (idempotent); returns how many."""
    from datetime import timedelta

    cutoff = today_utc - timedelta(days=days)
    stale = list(db.session.scalars(select(EnterpriseImport.id).where(
        EnterpriseImport.state == ImportState.PREVIEW, EnterpriseImport.created_at < cutoff)))
    if stale:
        db.session.execute(EnterpriseImportRow.__table__.delete().where(
            EnterpriseImportRow.import_id.in_(stale)))
        db.session.execute(update(EnterpriseImport).where(EnterpriseImport.id.in_(stale))
                           .values(state=ImportState.DISCARDED))
    return len(stale)
