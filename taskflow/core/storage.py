"""Evidence file storage: durable, never overwritten, outside the web root, tied to the DB commit.

Files live under app.config["DATA_DIR"]/evidence as ab/cd/<uuid4 hex> (the storage key). A write
goes to a temp file in the target directory, is fsynced, then linked to its final random name
(os.link fails rather than replace an existing file) and the directory is fsynced too, so the
file is on disk before the database row that points at it commits.

    upload = uploads.validate_upload(request.files["evidence"])
    blob = storage.store(upload, session=db.session)   # discarded if this transaction rolls back
    db.session.add(Evidence(storage_key=blob.storage_key, sha256=blob.sha256, size=blob.size, ...))
    db.session.commit()                                  # now the file is kept

A crash between the write and the commit leaves a file no row references; sweep() deletes such
files once they are older than a grace period (so uploads in flight are never touched).

A request that stores many files before its (short) write transaction uses an UploadBatch: the
batch lists every key in a manifest (DATA_DIR/evidence/.incoming-upload-<id>) before the key's
file is linked into place and deletes the manifest once the rows committed (or after discarding
the files). A manifest left behind names the files of an interrupted upload: sweep_interrupted()
removes those no row references once the manifest is older than a short age (minutes, not the
hours of the general grace period), because an upload in flight rewrites it for every file.

    batch = storage.UploadBatch.for_app()
    blobs = [batch.add(upload) for upload in validated]   # outside any transaction
    ... short write transaction: insert rows, commit ...
    batch.committed()                                      # or batch.discard() if it failed
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from taskflow.core import clock

log = logging.getLogger("taskflow.storage")

CHUNK = 1024 * 1024
KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}$")
TEMP_PREFIX = ".incoming-"
DEFAULT_GRACE = timedelta(hours=6)
# The manifest of an UploadBatch; the temp prefix keeps it out of backups and key listings.
MANIFEST_PREFIX = f"{TEMP_PREFIX}upload-"
# An upload rewrites its manifest for every file and commits within the SQLite busy timeout
# (30 s) of its last file, so a manifest untouched this long belongs to a dead upload. Default
# of the UPLOAD_ORPHAN_MINUTES setting.
DEFAULT_PENDING_AGE = timedelta(minutes=15)
_signals = Namespace()
# Sent after each file of an UploadBatch is on disk (sender: the batch; blob=StoredBlob). Lets
# a test pause an upload at a known point; nothing in the application listens to it.
blob_stored = _signals.signal("taskflow.storage.blob-stored")
PENDING_INFO_KEY = "taskflow.pending_blobs"
LISTENING_INFO_KEY = "taskflow.pending_blobs.listening"


class InvalidStorageKey(ValueError):
    """A storage key that is not one this store issues (it could point outside the root)."""


@dataclass(frozen=True)
class StoredBlob:
    """Where a stored file is and what it holds."""

    storage_key: str  # "ab/cd/<32 hex>"; the only name the database keeps
    sha256: str
    size: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EvidenceStore:
    """A directory of immutable blobs. Use the module functions inside an app; this class when
    the root is known (backups, scripts, tests)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @classmethod
    def for_app(cls, app=None) -> EvidenceStore:
        """The store of an app (default: the current one): DATA_DIR/evidence."""
        app = app or current_app
        return cls(Path(app.config["DATA_DIR"]) / "evidence")

    # ------------------------------------------------------------ keys and paths

    def path_for(self, storage_key: str) -> Path:
        """The file of a key; refuses anything that is not a key this store issues."""
        if not isinstance(storage_key, str) or not KEY_PATTERN.fullmatch(storage_key):
            raise InvalidStorageKey(storage_key)
        path = (self.root / storage_key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidStorageKey(storage_key)
        return path

    def _ensure_dir(self, directory: Path) -> None:
        """Create the directory (and parents up to the root), fsyncing every parent changed."""
        missing = []
        current = directory
        while not current.exists():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir(mode=0o750)
            except FileExistsError:
                continue
            _fsync_dir(path.parent)

    # ------------------------------------------------------------ write

    def store(self, source: Any, on_key=None) -> StoredBlob:
        """Write a ValidatedUpload (or bytes, or a binary file object) under a new random key.
        Returns once the file and its directory entry are on disk. Never overwrites. on_key(key)
        is called before a key's file appears under its final name (an UploadBatch notes it)."""
        stream = _as_stream(source)
        for _attempt in range(5):
            key_hex = uuid.uuid4().hex
            storage_key = f"{key_hex[:2]}/{key_hex[2:4]}/{key_hex}"
            final = self.path_for(storage_key)
            directory = final.parent
            self._ensure_dir(directory)
            temp = directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
            digest = hashlib.sha256()
            size = 0
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                with os.fdopen(fd, "wb") as out:
                    while chunk := stream.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if on_key is not None:
                    on_key(storage_key)
                try:
                    os.link(temp, final)  # fails if `final` exists: never overwrite
                except FileExistsError:
                    if hasattr(stream, "seek"):
                        stream.seek(0)
                        continue
                    raise
                except OSError:
                    # A filesystem without hard links: rename, after checking the name is free
                    # (a uuid4 collision is the only way it could be taken).
                    if final.exists():
                        raise
                    os.rename(temp, final)
            finally:
                temp.unlink(missing_ok=True)
            _fsync_dir(directory)
            return StoredBlob(storage_key=storage_key, sha256=digest.hexdigest(), size=size)
        raise FileExistsError("could not find a free storage key")

    # ------------------------------------------------------------ read

    def open_blob(self, storage_key: str) -> IO[bytes]:
        """Open a stored file for reading (FileNotFoundError if it is gone)."""
        return self.path_for(storage_key).open("rb")

    def exists(self, storage_key: str) -> bool:
        """Whether the key's file is present."""
        return self.path_for(storage_key).is_file()

    def sha256_of(self, storage_key: str) -> str:
        """Hash a stored file again (backups and integrity checks)."""
        digest = hashlib.sha256()
        with self.open_blob(storage_key) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def iter_keys(self) -> Iterator[str]:
        """Every stored key (temp files excluded), in no particular order."""
        if not self.root.is_dir():
            return
        for first in self.root.iterdir():
            if not (first.is_dir() and re.fullmatch(r"[0-9a-f]{2}", first.name)):
                continue
            for second in first.iterdir():
                if not (second.is_dir() and re.fullmatch(r"[0-9a-f]{2}", second.name)):
                    continue
                for entry in second.iterdir():
                    key = f"{first.name}/{second.name}/{entry.name}"
                    if KEY_PATTERN.fullmatch(key) and entry.is_file():
                        yield key

    def _iter_temps(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from self.root.glob(f"*/*/{TEMP_PREFIX}*")

    def iter_manifests(self) -> Iterator[Path]:
        """The manifests of UploadBatches not yet committed or discarded."""
        if self.root.is_dir():
            yield from self.root.glob(f"{MANIFEST_PREFIX}*")

    # ------------------------------------------------------------ delete

    def discard(self, storage_key: str) -> bool:
        """Delete a blob whose row never committed; True if a file was removed."""
        path = self.path_for(storage_key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        log.info("discarded blob %s", storage_key)
        return True

    def sweep_orphans(self, known_keys: Iterable[str], older_than: timedelta = DEFAULT_GRACE,
                      ) -> list[str]:
        """Delete blobs not in known_keys and left-over temp files, if older than the grace
        period. Returns what was deleted (keys, and temp files as "ab/cd/.incoming-…")."""
        known = set(known_keys)
        cutoff = (clock.utcnow() - older_than).timestamp()
        removed = []
        for key in list(self.iter_keys()):
            if key in known:
                continue
            path = self.path_for(key)
            try:
                if path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(key)
        removed.extend(self._remove_temps_older_than(cutoff))
        # A manifest this old lists files that are swept above or referenced: it is stale.
        for manifest in list(self.iter_manifests()):
            try:
                if manifest.stat().st_mtime <= cutoff:
                    manifest.unlink()
            except FileNotFoundError:
                continue
        if removed:
            log.warning("swept %d orphaned evidence file(s): %s", len(removed), removed)
        return removed

    def _remove_temps_older_than(self, cutoff: float) -> list[str]:
        """Delete temp files (of writes interrupted mid-file) untouched since cutoff; their paths."""
        removed = []
        for temp in list(self._iter_temps()):
            try:
                if temp.stat().st_mtime > cutoff:
                    continue
                temp.unlink()
            except FileNotFoundError:
                continue
            removed.append(temp.relative_to(self.root).as_posix())
        return removed

    def sweep_interrupted(self, referenced, older_than: timedelta = DEFAULT_PENDING_AGE,
                          ) -> list[str]:
        """Delete the files of interrupted uploads: for each manifest older than older_than, its
        keys that referenced(keys) does not return (referenced: a callable asking the database
        which of these keys a committed row holds), then the manifest. Temp files of a write
        interrupted mid-file, untouched as long, go too. Returns what was deleted."""
        cutoff = (clock.utcnow() - older_than).timestamp()
        removed: list[str] = []
        for manifest in sorted(self.iter_manifests()):
            try:
                if manifest.stat().st_mtime > cutoff:
                    continue
                lines = manifest.read_text(encoding="ascii", errors="replace").split()
            except FileNotFoundError:
                continue
            keys = [key for key in dict.fromkeys(lines) if KEY_PATTERN.fullmatch(key)]
            kept = set(referenced(keys)) if keys else set()
            for key in keys:
                if key not in kept and self.discard(key):
                    removed.append(key)
            manifest.unlink(missing_ok=True)
        removed.extend(self._remove_temps_older_than(cutoff))
        if removed:
            log.warning("swept %d file(s) of interrupted uploads: %s", len(removed), removed)
        return removed


class UploadBatch:
    """The files of one upload, stored before the transaction that inserts their rows.

    Each key goes into the batch's manifest before its file gets its final name, so if the
    process dies before committed() or discard(), sweep_interrupted() finds every file of the
    upload within minutes. Files are never overwritten and never moved after the commit: a
    committed row always points at a file that is already in place.
    """

    def __init__(self, store: EvidenceStore):
        self.store = store
        self.id = uuid.uuid4().hex
        self.manifest = store.root / f"{MANIFEST_PREFIX}{self.id}"
        self.blobs: list[StoredBlob] = []

    @classmethod
    def for_app(cls, app=None) -> UploadBatch:
        """A batch in the current app's evidence store."""
        return cls(EvidenceStore.for_app(app))

    def _note(self, storage_key: str) -> None:
        # Appended and flushed per key: a killed process leaves the names on disk. A power
        # failure may lose the last lines; the general sweep (hours) still finds those files.
        self.store.root.mkdir(parents=True, exist_ok=True)
        with open(self.manifest, "a", encoding="ascii") as out:
            out.write(storage_key + "\n")

    def add(self, source: Any) -> StoredBlob:
        """Store one file of the upload (fsynced, under a new key) and return where it is."""
        blob = self.store.store(source, on_key=self._note)
        self.blobs.append(blob)
        blob_stored.send(self, blob=blob)
        return blob

    def committed(self) -> None:
        """The rows referencing the files committed: the upload is no longer interrupted."""
        self.manifest.unlink(missing_ok=True)
        self.blobs = []

    def discard(self) -> None:
        """The rows did not commit: delete every file of the upload, then the manifest."""
        for blob in self.blobs:
            try:
                self.store.discard(blob.storage_key)
            except OSError:  # pragma: no cover - the sweep gets it later
                log.exception("could not discard blob %s", blob.storage_key)
        self.blobs = []
        self.manifest.unlink(missing_ok=True)


def _as_stream(source: Any) -> IO[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        import io

        return io.BytesIO(bytes(source))
    file = getattr(source, "file", source)  # a ValidatedUpload carries its spooled file
    if hasattr(file, "seek"):
        file.seek(0)
    return file


# ---------------------------------------------------------------- transaction hooks


def _real_session(session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def track(session, storage_key: str, store: EvidenceStore | None = None) -> None:
    """Tie a freshly written blob to the session's current transaction: it is deleted if that
    transaction (or the savepoint it was written in) rolls back, or if the session is closed
    without committing; it is kept once the outermost transaction commits."""
    session = _real_session(session)
    store = store or EvidenceStore.for_app()
    transaction = (session.get_nested_transaction() or session.get_transaction()
                   or session.begin())
    session.info.setdefault(PENDING_INFO_KEY, []).append((storage_key, transaction, store))
    if not session.info.get(LISTENING_INFO_KEY):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_soft_rollback)
        event.listen(session, "after_transaction_end", _after_transaction_end)
        session.info[LISTENING_INFO_KEY] = True


def _discard_pending(session: Session, keep) -> None:
    pending = session.info.get(PENDING_INFO_KEY, [])
    remaining = []
    for item in pending:
        storage_key, transaction, store = item
        if keep(transaction):
            remaining.append(item)
            continue
        try:
            store.discard(storage_key)
        except OSError:  # pragma: no cover - the sweep gets it later
            log.exception("could not discard blob %s after a rollback", storage_key)
    session.info[PENDING_INFO_KEY] = remaining


def _after_commit(session: Session) -> None:
    # Fires for savepoint releases too; only the outermost commit makes the rows durable.
    if session.get_nested_transaction() is None and session.get_transaction() is not None:
        if session.get_transaction().parent is None:
            session.info[PENDING_INFO_KEY] = []


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    """A savepoint or the whole transaction rolled back: drop blobs written inside it."""

    def outside(transaction) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return False
            transaction = transaction.parent
        return True

    _discard_pending(session, keep=outside)


def _after_transaction_end(session: Session, transaction) -> None:
    """The outermost transaction ended without a commit (closed, removed, errored)."""
    if transaction.parent is None and session.info.get(PENDING_INFO_KEY):
        _discard_pending(session, keep=lambda _t: False)


# ---------------------------------------------------------------- module-level API


def store(source: Any, *, session=None) -> StoredBlob:
    """Write a file to the current app's evidence store. With session= (e.g. db.session) the
    blob is deleted automatically unless that session's transaction commits."""
    evidence = EvidenceStore.for_app()
    blob = evidence.store(source)
    if session is not None:
        track(session, blob.storage_key, evidence)
    return blob


@contextmanager
def stored(source: Any, *, session=None) -> Iterator[StoredBlob]:
    """`with stored(upload) as blob:` — the blob is discarded if the block raises."""
    blob = store(source, session=session)
    try:
        yield blob
    except BaseException:
        discard(blob.storage_key)
        raise


def open_blob(storage_key: str) -> IO[bytes]:
    """Open a stored file of the current app for reading (InvalidStorageKey, FileNotFoundError)."""
    return EvidenceStore.for_app().open_blob(storage_key)


def blob_path(storage_key: str) -> Path:
    """The path of a stored file (for send_file); InvalidStorageKey for a key that escapes."""
    return EvidenceStore.for_app().path_for(storage_key)


def discard(storage_key: str) -> bool:
    """Delete a blob of the current app (after a failed commit)."""
    return EvidenceStore.for_app().discard(storage_key)


def sweep_orphans(known_keys: Iterable[str], older_than: timedelta = DEFAULT_GRACE) -> list[str]:
    """Delete the current app's blobs that no row references and that are older than the grace."""
    return EvidenceStore.for_app().sweep_orphans(known_keys, older_than)


def pending_age() -> timedelta:
    """The UPLOAD_ORPHAN_MINUTES setting (DEFAULT_PENDING_AGE outside an app)."""
    if not has_app_context():
        return DEFAULT_PENDING_AGE
    minutes = current_app.config["UPLOAD_ORPHAN_MINUTES"]
    return timedelta(minutes=int(minutes)) if minutes else DEFAULT_PENDING_AGE


def sweep_interrupted(session, key_column, older_than: timedelta | None = None) -> list[str]:
    """Delete the files of uploads interrupted before their commit (see UploadBatch), once their
    manifest is older than older_than (default: the UPLOAD_ORPHAN_MINUTES setting). key_column
    is the storage-key column, e.g. Evidence.storage_key: a key a row holds is never deleted."""
    from sqlalchemy import select

    def referenced(keys: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):  # bounded IN lists
            found.update(session.scalars(
                select(key_column).where(key_column.in_(keys[start:start + 500]))))
        return found

    return EvidenceStore.for_app().sweep_interrupted(referenced, older_than or pending_age())


def sweep(session, referenced_keys_query, older_than: timedelta = DEFAULT_GRACE) -> list[str]:
    """Delete orphaned blobs: referenced_keys_query is a select() of the storage-key column(s),
    e.g. select(Evidence.storage_key). Candidates are listed before the references are read,
    and only files older than the grace period are candidates, so a commit in flight is safe."""
    evidence = EvidenceStore.for_app()
    cutoff = (clock.utcnow() - older_than).timestamp()
    candidates = set()
    for key in evidence.iter_keys():
        try:
            if evidence.path_for(key).stat().st_mtime <= cutoff:
                candidates.add(key)
        except FileNotFoundError:
            continue
    referenced = {key for key in session.scalars(referenced_keys_query) if key}
    keep = (set(evidence.iter_keys()) - candidates) | referenced
    return evidence.sweep_orphans(keep, older_than)


def file_mtime(storage_key: str) -> datetime:
    """When a blob was written (UTC)."""
    stat_result = blob_path(storage_key).stat()
    return datetime.fromtimestamp(stat_result.st_mtime, tz=timezone.utc)
