"""Backups: a logical dump of every table plus the files under DATA_DIR, with a SHA-256 manifest.

    flask backup create [--out DIR] [--tar]   -> DIR/taskflow-backup-20260101T020000Z[.tar]
    flask backup verify PATH                  check every hash and row count, write nothing
    flask backup restore PATH [--force]       into an empty database (and data directory)

Layout of a backup (a directory, or the same packed in an uncompressed tar):

    manifest.json        format, created_at, database dialect, alembic revision, per table the
                         row count and file, per file its size and SHA-256
    db/<table>.jsonl     one JSON object per row, columns by name, rows in primary-key order
    files/<path>         the files under DATA_DIR (evidence, generated documents), same paths

Rows are plain JSON (datetimes and dates as ISO 8601, decimals as strings, bytes as base64), so a
dump taken from SQLite restores into PostgreSQL and back. The dump runs in one read transaction
(a consistent snapshot on both databases); files are copied after it, and evidence files are
written before their rows commit and never change, so every row's file is in the backup.

Restore verifies every hash before it writes anything, creates the schema when the database is
empty (migrations up to the backup's revision, or the models when the backup has none), inserts
the rows in foreign-key order (columns that point forward or at their own table are filled in
afterwards), resets PostgreSQL's sequences and copies the files into DATA_DIR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Time,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from taskflow.core import clock
from taskflow.core.db import read_transaction
from taskflow.extensions import db

log = logging.getLogger("taskflow.backup")

FORMAT = "taskflow-backup/1"
MANIFEST = "manifest.json"
BATCH = 1000
CHUNK = 1024 * 1024
# Under DATA_DIR: transient upload folders and unfinished writes are not part of a backup.
# imports/ holds only the copy of an upload while it is being staged: a staged (pending) import
# lives in the database (enterprise_import_rows), which the backup holds; nothing refers to the
# file afterwards, and the scheduler's import_temp_sweep removes what a killed worker left.
# exports/ holds background exports (enterprises.jobs.run_export_jobs): copies of database
# data, kept EXPORT_KEEP_DAYS and rebuilt on request.
SKIP_TOP_DIRS = frozenset({"imports", "tmp", "exports"})
SKIP_PREFIXES = (".incoming-",)
ALEMBIC_TABLE = "alembic_version"


class BackupError(click.ClickException):
    """A backup that cannot be written, read, verified or restored (the message says why)."""


# ---------------------------------------------------------------- helpers


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _encode(value):
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(column):
    """A function turning a dumped JSON value back into what the column's type binds."""
    coltype = column.type
    if isinstance(coltype, DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(coltype, Date):
        return lambda v: None if v is None else date.fromisoformat(v)
    if isinstance(coltype, Time):
        return lambda v: None if v is None else time.fromisoformat(v)
    if isinstance(coltype, Numeric) and not isinstance(coltype, Integer):
        return lambda v: None if v is None else Decimal(v)
    if isinstance(coltype, LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    return None


def _reflect(conn: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(bind=conn)
    metadata.remove(metadata.tables[ALEMBIC_TABLE]) if ALEMBIC_TABLE in metadata.tables else None
    return metadata


def _sorted_tables(metadata: MetaData) -> list[Table]:
    """Parents before children (cycles and self-references are handled by deferred columns)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot sort tables ... cycle": we handle cycles
        return list(metadata.sorted_tables)


def _alembic_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(ALEMBIC_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}")).scalar()


def _data_files(data_dir: Path, exclude: Path | None) -> Iterator[tuple[str, Path]]:
    """(relative posix path, absolute path) of every file to back up, sorted."""
    if not data_dir.is_dir():
        return
    for root, dirs, files in os.walk(data_dir):
        root_path = Path(root)
        if root_path == data_dir:
            dirs[:] = [d for d in dirs if d not in SKIP_TOP_DIRS]
        dirs[:] = sorted(d for d in dirs if exclude is None or (root_path / d) != exclude)
        for name in sorted(files):
            path = root_path / name
            if name.startswith(SKIP_PREFIXES) or not path.is_file() or path.is_symlink():
                continue
            yield path.relative_to(data_dir).as_posix(), path


def _safe_relative(rel: str) -> Path:
    """A manifest path that stays inside its folder (no absolute paths, no '..')."""
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"unsafe path in manifest: {rel!r}")
    return path


# ---------------------------------------------------------------- create


def create_backup(out_dir: Path | None = None, archive: bool = False) -> Path:
    """Write a backup of the current app's database and DATA_DIR; returns its path."""
    app = current_app
    out_dir = Path(out_dir or app.config["BACKUP_DIR"])
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%SZ")
    name = f"taskflow-backup-{stamp}"
    n = 1
    while (out_dir / name).exists() or (out_dir / f"{name}.tar").exists():
        n += 1
        name = f"taskflow-backup-{stamp}-{n}"
    work = out_dir / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    (work / "db").mkdir(parents=True)
    (work / "files").mkdir()

    tables: dict[str, dict] = {}
    files: dict[str, dict] = {}
    engine = db.engine
    with read_transaction(), engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif engine.dialect.name == "sqlite":
                # A deferred read transaction: in WAL mode one snapshot for the whole dump,
                # without taking the write lock.
                conn.exec_driver_sql("BEGIN")
            revision = _alembic_revision(conn)
            for table in _sorted_tables(_reflect(conn)):
                rel = f"db/{table.name}.jsonl"
                rows = _dump_table(conn, table, work / rel)
                tables[table.name] = {"rows": rows, "file": rel}
                files[rel] = {"sha256": sha256_file(work / rel), "size": (work / rel).stat().st_size}

    data_dir = Path(app.config["DATA_DIR"]).resolve()
    for rel, source in _data_files(data_dir, exclude=out_dir.resolve()):
        target = work / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        files[f"files/{rel}"] = {"sha256": sha256_file(target), "size": target.stat().st_size}

    manifest = {
        "format": FORMAT,
        "created_at": clock.utcnow().isoformat(),
        "dialect": engine.dialect.name,
        "alembic_revision": revision,
        "tables": tables,
        "files": files,
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")

    if archive:
        final = out_dir / f"{name}.tar"
        partial = out_dir / f".{name}.tar.partial"
        with tarfile.open(partial, "w") as tar:
            for path in sorted(work.rglob("*")):
                tar.add(path, arcname=f"{name}/{path.relative_to(work).as_posix()}",
                        recursive=False)
        os.replace(partial, final)
        shutil.rmtree(work)
    else:
        final = out_dir / name
        os.replace(work, final)
    log.info("backup written to %s: %d tables, %d rows, %d data files", final, len(tables),
             sum(t["rows"] for t in tables.values()), len(files) - len(tables))
    return final


def _dump_table(conn: Connection, table: Table, path: Path) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    names = [c.name for c in table.columns]
    result = conn.execution_options(yield_per=BATCH).execute(select(table).order_by(*order))
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for row in result:
            record = {name: _encode(value) for name, value in zip(names, row, strict=True)}
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


# ---------------------------------------------------------------- verify


def _open_backup(path: Path, stack: tempfile.TemporaryDirectory | None) -> Path:
    """The backup directory for PATH (a tar is unpacked into a temp dir, members checked)."""
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file() or not tarfile.is_tarfile(path):
        raise BackupError(f"not a backup directory or tar file: {path}")
    assert stack is not None
    target = Path(stack.name)
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        for member in members:
            _safe_relative(member.name)
            if not (member.isfile() or member.isdir()):
                raise BackupError(f"unexpected entry in backup archive: {member.name!r}")
        tar.extractall(target, members=members, filter="data")
    tops = [p for p in target.iterdir()]
    if len(tops) == 1 and tops[0].is_dir() and (tops[0] / MANIFEST).exists():
        return tops[0]
    return target


def verify_backup(root: Path) -> dict:
    """Check a backup directory: manifest format, every file's size and hash, row counts."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"no {MANIFEST} in {root}")
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except ValueError as exc:
        raise BackupError(f"unreadable manifest: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    listed = manifest["files"]
    for rel, meta in listed.items():
        path = root / _safe_relative(rel)
        if not path.is_file():
            raise BackupError(f"missing from backup: {rel}")
        if path.stat().st_size != meta["size"] or sha256_file(path) != meta["sha256"]:
            raise BackupError(f"hash mismatch: {rel} has been changed or damaged")
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    unlisted = sorted(present - set(listed) - {MANIFEST})
    if unlisted:
        raise BackupError(f"files not in the manifest: {', '.join(unlisted[:5])}")
    for name, meta in manifest["tables"].items():
        if meta["file"] not in listed:
            raise BackupError(f"table {name}: its dump is not in the manifest")
        with open(root / meta["file"], "rb") as handle:
            lines = sum(1 for _ in handle)
        if lines != meta["rows"]:
            raise BackupError(f"table {name}: {lines} rows in the dump, manifest says {meta['rows']}")
    return manifest


# ---------------------------------------------------------------- verification records

VERIFIED_SUFFIX = ".verified.json"


def verification_record_path(path: Path) -> Path:
    """Where the last verification of a backup is recorded: beside it (never inside the backup)."""
    path = Path(path)
    return path.with_name(path.name + VERIFIED_SUFFIX)


def record_verification(path: Path, manifest: dict | None, error: str | None = None) -> dict:
    """Write the result of verifying a backup beside it (the security page shows it)."""
    record = {"verified_at": clock.utcnow().isoformat(), "ok": error is None, "error": error}
    if manifest is not None:
        record.update(tables=len(manifest["tables"]),
                      rows=sum(t["rows"] for t in manifest["tables"].values()),
                      files=len(manifest["files"]))
    target = verification_record_path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(json.dumps(record, indent=2), "utf-8")
        os.replace(partial, target)
    except OSError as exc:  # a backup on read-only media can still be verified
        log.warning("could not record the verification of %s: %s", path, exc)
    return record


def read_verification(path: Path) -> dict | None:
    """The recorded result of the last verification of a backup, or None when never verified."""
    try:
        return json.loads(verification_record_path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _verify_and_record(path: Path) -> dict:
    """Verify a backup (directory or tar) and record the result beside it; raise on failure."""
    holder = tempfile.TemporaryDirectory(prefix="taskflow-verify-")
    try:
        manifest = verify_backup(_open_backup(path, holder))
    except BackupError as exc:
        record_verification(path, None, error=exc.message)
        raise
    finally:
        holder.cleanup()
    record_verification(path, manifest)
    return manifest


# ---------------------------------------------------------------- restore


def restore_backup(path: Path, force: bool = False) -> dict[str, int]:
    """Restore a backup into the current app's database and DATA_DIR; returns rows per table.

    Refuses (BackupError) when a hash does not match, when the database already holds rows or
    DATA_DIR already holds a different file of the same name (unless force: then the tables are
    emptied first and such files replaced).
    """
    holder = tempfile.TemporaryDirectory(prefix="taskflow-restore-")
    try:
        root = _open_backup(Path(path), holder)
        manifest = verify_backup(root)
        counts = _restore_database(root, manifest, force)
        _restore_files(root, manifest, force)
    finally:
        holder.cleanup()
    log.info("backup %s restored: %d tables, %d rows", path, len(counts), sum(counts.values()))
    return counts


def _ensure_schema(manifest: dict) -> None:
    """Create the schema in an empty database: migrations to the backup's revision, else models."""
    engine = db.engine
    existing = set(inspect(engine).get_table_names()) - {ALEMBIC_TABLE}
    if existing:
        return
    revision = manifest.get("alembic_revision")
    if revision:
        from flask_migrate import upgrade

        upgrade(revision=revision)
    else:
        db.create_all()


def _restore_database(root: Path, manifest: dict, force: bool) -> dict[str, int]:
    _ensure_schema(manifest)
    engine = db.engine
    dumped = manifest["tables"]
    with engine.connect() as conn:
        target_revision = _alembic_revision(conn)
        conn.rollback()
    wanted = manifest.get("alembic_revision")
    if wanted and target_revision and wanted != target_revision:
        raise BackupError(
            f"the backup is at migration {wanted}, this database at {target_revision}: restore into "
            "an empty database (it is migrated to the backup's revision; run `flask db upgrade` after)"
        )
    counts: dict[str, int] = {}
    with engine.connect() as conn, conn.begin():
        metadata = _reflect(conn)
        missing = sorted(set(dumped) - set(metadata.tables))
        if missing:
            raise BackupError(f"tables in the backup but not in this database: {', '.join(missing)}")
        ordered = [t for t in _sorted_tables(metadata) if t.name in dumped]
        nonempty = [t.name for t in ordered
                    if conn.execute(select(func.count()).select_from(t)).scalar()]
        if nonempty and not force:
            raise BackupError(
                f"the database is not empty ({', '.join(nonempty[:5])}…); use --force to replace it"
            )
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        if nonempty:
            _empty_tables(conn, ordered)
        position = {t.name: i for i, t in enumerate(ordered)}
        for table in ordered:
            counts[table.name] = _load_table(conn, table, root / dumped[table.name]["file"],
                                             position)
            if counts[table.name] != dumped[table.name]["rows"]:
                raise BackupError(f"table {table.name}: restored {counts[table.name]} rows, "
                                  f"expected {dumped[table.name]['rows']}")
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn, ordered)
    return counts


def _empty_tables(conn: Connection, ordered: list[Table]) -> None:
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in ordered)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(ordered):
            conn.execute(table.delete())


def _deferred_columns(table: Table, position: dict[str, int]) -> list[str]:
    """Nullable FK columns pointing at this table or one restored later: set after the insert."""
    mine = position[table.name]
    columns = []
    for fk in table.foreign_keys:
        target = fk.column.table.name
        if target in position and position[target] >= mine and fk.parent.nullable:
            columns.append(fk.parent.name)
    return sorted(set(columns))


def _load_table(conn: Connection, table: Table, path: Path, position: dict[str, int]) -> int:
    decoders = {c.name: d for c in table.columns if (d := _decoder(c)) is not None}
    known = {c.name for c in table.columns}
    deferred = _deferred_columns(table, position)
    pk = [c.name for c in table.primary_key.columns]
    if deferred and not pk:
        raise BackupError(f"table {table.name}: self-references but has no primary key")
    later: list[dict] = []
    batch: list[dict] = []
    count = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            unknown = set(row) - known
            if unknown:
                raise BackupError(f"table {table.name}: unknown columns {sorted(unknown)}")
            for name, decode in decoders.items():
                if name in row:
                    row[name] = decode(row[name])
            if deferred:
                values = {name: row[name] for name in deferred if row.get(name) is not None}
                if values:
                    later.append({**{f"pk_{k}": row[k] for k in pk},
                                  **{f"v_{k}": v for k, v in values.items()}, "_cols": values})
                for name in deferred:
                    row[name] = None
            batch.append(row)
            count += 1
            if len(batch) >= BATCH:
                conn.execute(table.insert(), batch)
                batch = []
    if batch:
        conn.execute(table.insert(), batch)
    for item in later:
        where = [table.c[k] == item[f"pk_{k}"] for k in pk]
        conn.execute(table.update().where(*where).values(**item["_cols"]))
    return count


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """Point each serial/identity sequence past the restored ids."""
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": conn.dialect.identifier_preparer.quote(table.name), "c": column.name},
            ).scalar()
            if sequence:
                top = conn.execute(select(func.max(column))).scalar()
                conn.execute(text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
                             {"s": sequence, "v": top or 1, "called": top is not None})


def _restore_files(root: Path, manifest: dict, force: bool) -> None:
    data_dir = Path(current_app.config["DATA_DIR"])
    pending = []
    for rel, meta in manifest["files"].items():
        if not rel.startswith("files/"):
            continue
        inner = _safe_relative(rel[len("files/"):])
        target = data_dir / inner
        if target.exists():
            if target.is_file() and sha256_file(target) == meta["sha256"]:
                continue
            if not force:
                raise BackupError(f"DATA_DIR already has a different {inner}; use --force")
        pending.append((root / rel, target, meta["sha256"]))
    for source, target, digest in pending:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".restore-{target.name}")
        shutil.copyfile(source, partial)
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        if sha256_file(partial) != digest:
            partial.unlink()
            raise BackupError(f"copy of {source.name} does not match its hash")
        os.replace(partial, target)


# ---------------------------------------------------------------- CLI


@click.group("backup")
def backup_cli():
    """Back up and restore the database and the evidence files."""


@backup_cli.command("create")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (default: TASKFLOW_BACKUP_DIR).")
@click.option("--tar", "archive", is_flag=True, help="Write one .tar file instead of a folder.")
@with_appcontext
def create_command(out_dir: Path | None, archive: bool):
    """Write a timestamped backup: every table as JSON lines, the data files, a manifest."""
    path = create_backup(out_dir, archive=archive)
    manifest = _verify_and_record(path)
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"backup written and verified: {path} ({rows} rows)")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def verify_command(path: Path):
    """Check every hash and row count of a backup without restoring it (the result is recorded
    beside it, in <backup>.verified.json, for the security page)."""
    manifest = _verify_and_record(path)
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"backup ok: {len(manifest['tables'])} tables, {rows} rows, "
               f"{len(manifest['files'])} files verified")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the rows of a database that is not empty.")
@with_appcontext
def restore_command(path: Path, force: bool):
    """Restore a backup into an empty database and data directory (hashes checked first)."""
    counts = restore_backup(path, force=force)
    click.echo(f"restored {sum(counts.values())} rows in {len(counts)} tables from {path}")


def init_app(app: Flask) -> None:
    """Add `flask backup ...`."""
    app.cli.add_command(backup_cli)
