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

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from taskflow.core import clock

log = logging.getLogger("taskflow.storage")

CHUNK = 1024 * 1024
KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}$")
TEMP_PREFIX = ".incoming-"
DEFAULT_GRACE = timedelta(hours=6)
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

    def store(self, source: Any) -> StoredBlob:
        """Write a ValidatedUpload (or bytes, or a binary file object) under a new random key.
        Returns once the file and its directory entry are on disk. Never overwrites."""
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
        for temp in list(self._iter_temps()):
            try:
                if temp.stat().st_mtime > cutoff:
                    continue
                temp.unlink()
            except FileNotFoundError:
                continue
            removed.append(temp.relative_to(self.root).as_posix())
        if removed:
            log.warning("swept %d orphaned evidence file(s): %s", len(removed), removed)
        return removed


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
