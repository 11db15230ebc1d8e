"""Evidence storage: durable writes, never overwriting, tied to the commit, orphans swept."""

import hashlib
import io
import os
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from taskflow.core import storage
from taskflow.core.storage import EvidenceStore, InvalidStorageKey, StoredBlob
from taskflow.core.uploads import validate_upload
from taskflow.extensions import db

PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n"
       b"%%EOF\n")


def evidence_root(app) -> Path:
    return Path(app.config["DATA_DIR"]) / "evidence"


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def age(path: Path, hours: float) -> None:
    """Make a file look as if it was written `hours` ago."""
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))


# ---------------------------------------------------------------- writing


def test_store_writes_the_file_under_a_random_key_outside_the_web_root(app):
    blob = storage.store(PDF)
    assert isinstance(blob, StoredBlob)
    assert blob.sha256 == hashlib.sha256(PDF).hexdigest()
    assert blob.size == len(PDF)
    first, second, name = blob.storage_key.split("/")
    assert first == name[:2] and second == name[2:4] and len(name) == 32
    path = evidence_root(app) / blob.storage_key
    assert path.read_bytes() == PDF
    assert hashlib.sha256(path.read_bytes()).hexdigest() == blob.sha256
    assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
    assert all_files(evidence_root(app)) == [path]  # no temp file left behind
    assert (path.stat().st_mode & 0o777) == 0o640


def test_store_takes_a_validated_upload_and_keeps_every_byte(app):
    data = PDF.replace(b"trailer", b"%" + os.urandom(3 * 1024 * 1024).hex().encode() + b"\ntrailer")
    upload = validate_upload(FileStorage(io.BytesIO(data), filename="证明材料.pdf"))
    blob = storage.store(upload)
    assert blob.sha256 == upload.sha256 == hashlib.sha256(data).hexdigest()
    with storage.open_blob(blob.storage_key) as f:
        assert f.read() == data
    assert storage.blob_path(blob.storage_key).stat().st_size == len(data)


def test_two_stores_of_the_same_content_get_two_files(app):
    a, b = storage.store(PDF), storage.store(PDF)
    assert a.storage_key != b.storage_key and a.sha256 == b.sha256
    assert len(all_files(evidence_root(app))) == 2


def test_store_never_overwrites_an_existing_file(app, monkeypatch):
    taken = uuid.UUID("ab" * 16)
    fresh = iter([taken, uuid.uuid4(),  # first store: key, temp name
                  taken, uuid.uuid4(),  # second store collides with the first key...
                  uuid.UUID("cd" * 16), uuid.uuid4()])  # ...and retries with a new one
    monkeypatch.setattr(storage.uuid, "uuid4", lambda: next(fresh))
    first = storage.store(b"first version")
    second = storage.store(b"second version")
    assert first.storage_key == "ab/ab/" + "ab" * 16
    assert second.storage_key == "cd/cd/" + "cd" * 16
    assert storage.open_blob(first.storage_key).read() == b"first version"
    assert storage.open_blob(second.storage_key).read() == b"second version"
    assert len(all_files(evidence_root(app))) == 2


def test_store_syncs_the_file_and_its_directory_before_returning(app, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", recording_fsync)
    blob = storage.store(PDF)
    final = evidence_root(app) / blob.storage_key
    assert any(".incoming-" in path for path in synced)  # the data, before the link
    assert str(final.parent) in synced  # the directory entry, after it
    assert synced.index(str(final.parent)) > next(
        i for i, p in enumerate(synced) if ".incoming-" in p)


@pytest.mark.parametrize("key", ["../../etc/passwd", "ab/cd/../../../x", "/etc/passwd",
                                 "ab/cd/" + "0" * 31, "AB/CD/" + "A" * 32, "ab\\cd\\" + "0" * 32,
                                 "ab/cd/" + "0" * 32 + "/..", "", "ab/cd/.incoming-x"])
def test_keys_that_could_escape_the_root_are_refused(app, key):
    with pytest.raises(InvalidStorageKey):
        storage.open_blob(key)
    with pytest.raises(InvalidStorageKey):
        storage.discard(key)


def test_a_missing_blob_is_reported(app):
    with pytest.raises(FileNotFoundError):
        storage.open_blob("ab/cd/" + "ab" * 16)
    assert storage.discard("ab/cd/" + "ab" * 16) is False


def test_discard_removes_a_blob(app):
    blob = storage.store(PDF)
    assert storage.discard(blob.storage_key) is True
    assert all_files(evidence_root(app)) == []


def test_stored_context_discards_when_the_block_fails(app):
    with pytest.raises(RuntimeError):
        with storage.stored(PDF) as blob:
            assert (evidence_root(app) / blob.storage_key).exists()
            raise RuntimeError("the row could not be built")
    assert all_files(evidence_root(app)) == []
    with storage.stored(PDF) as kept:
        pass
    assert (evidence_root(app) / kept.storage_key).exists()


# ---------------------------------------------------------------- tied to the transaction


def _user(username: str):
    from taskflow.accounts.models import User

    return User(username=username, password_hash="x", role="office", display_name=username)


def test_rollback_removes_the_blob(app):
    db.session.add(_user("u1"))
    blob = storage.store(PDF, session=db.session)
    assert (evidence_root(app) / blob.storage_key).exists()
    db.session.rollback()
    assert not (evidence_root(app) / blob.storage_key).exists()


def test_commit_keeps_the_blob_and_a_later_rollback_does_not_touch_it(app):
    db.session.add(_user("u1"))
    blob = storage.store(PDF, session=db.session)
    db.session.commit()
    db.session.add(_user("u2"))
    db.session.rollback()
    db.session.remove()
    assert (evidence_root(app) / blob.storage_key).exists()


def test_a_failed_commit_leaves_no_file_behind(app):
    db.session.add(_user("taken"))
    db.session.commit()
    db.session.add(_user("taken"))  # the unique username makes the commit fail
    blob = storage.store(PDF, session=db.session)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert not (evidence_root(app) / blob.storage_key).exists()
    assert all_files(evidence_root(app)) == []


def test_a_session_closed_without_commit_removes_the_blob(app):
    blob = storage.store(PDF, session=db.session)  # e.g. the view raised before committing
    db.session.remove()
    assert not (evidence_root(app) / blob.storage_key).exists()


def test_a_rolled_back_savepoint_removes_only_its_own_blobs(app):
    outer = storage.store(b"outer", session=db.session)
    savepoint = db.session.begin_nested()
    inner = storage.store(b"inner", session=db.session)
    savepoint.rollback()
    assert not (evidence_root(app) / inner.storage_key).exists()
    assert (evidence_root(app) / outer.storage_key).exists()
    released = db.session.begin_nested()
    kept = storage.store(b"kept", session=db.session)
    released.commit()  # a released savepoint is not the outer commit...
    db.session.commit()  # ...this is
    db.session.remove()
    assert (evidence_root(app) / outer.storage_key).exists()
    assert (evidence_root(app) / kept.storage_key).exists()


def test_a_released_savepoint_blob_still_goes_if_the_outer_transaction_rolls_back(app):
    savepoint = db.session.begin_nested()
    blob = storage.store(b"inner", session=db.session)
    savepoint.commit()
    db.session.rollback()
    assert not (evidence_root(app) / blob.storage_key).exists()


def test_each_request_session_only_discards_its_own_blobs(app):
    """Two requests in their own app contexts: one commits, one fails."""
    kept_key, lost_key = None, None
    with app.app_context():
        kept_key = storage.store(b"request one", session=db.session).storage_key
        db.session.add(_user("one"))
        db.session.commit()
    with app.app_context():
        lost_key = storage.store(b"request two", session=db.session).storage_key
        db.session.add(_user("two"))
    assert (evidence_root(app) / kept_key).exists()
    assert not (evidence_root(app) / lost_key).exists()


# ---------------------------------------------------------------- sweeping orphans


def test_sweep_removes_only_old_unreferenced_files(app):
    evidence = EvidenceStore.for_app()
    referenced_old = storage.store(b"a row points here")
    orphan_old = storage.store(b"nobody points here")
    orphan_young = storage.store(b"an upload still in flight")
    for blob in (referenced_old, orphan_old):
        age(evidence.path_for(blob.storage_key), hours=48)
    removed = storage.sweep_orphans({referenced_old.storage_key}, older_than=timedelta(hours=6))
    assert removed == [orphan_old.storage_key]
    assert evidence.exists(referenced_old.storage_key)
    assert evidence.exists(orphan_young.storage_key)
    assert not evidence.exists(orphan_old.storage_key)


def test_sweep_removes_old_temp_files_from_an_interrupted_write(app):
    blob = storage.store(b"x")
    directory = (evidence_root(app) / blob.storage_key).parent
    stale = directory / ".incoming-deadbeef"
    stale.write_bytes(b"half a file")
    fresh = directory / ".incoming-cafebabe"
    fresh.write_bytes(b"being written right now")
    age(stale, hours=30)
    removed = storage.sweep_orphans({blob.storage_key}, older_than=timedelta(hours=6))
    assert removed == [stale.relative_to(evidence_root(app)).as_posix()]
    assert fresh.exists() and not stale.exists()


CRASHING_WRITER = textwrap.dedent("""
    import os, sys
    from config import TestingConfig
    from taskflow import create_app
    from taskflow.core import storage
    from taskflow.extensions import db

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1],
                     INSTANCE_DIR=sys.argv[2], DATA_DIR=sys.argv[3])
    with app.app_context():
        blob = storage.store(b"written, never committed", session=db.session)
        print(blob.storage_key, flush=True)
        os._exit(9)  # the process dies between the file write and the commit
""")


def test_a_crash_between_writing_and_committing_leaves_no_orphan_after_the_sweep(
        app, make_milestone, make_user, tmp_path):
    from taskflow.assignments.models import Evidence, StatusUpdate

    # One real evidence row whose file must survive every sweep.
    author = make_user("office")
    update = StatusUpdate(milestone_id=make_milestone().id, author_id=author.id, progress=50)
    db.session.add(update)
    db.session.flush()
    kept = storage.store(PDF, session=db.session)
    db.session.add(Evidence(status_update_id=update.id, original_name="证明材料.pdf", size=kept.size,
                            detected_type="pdf", content_type="application/pdf",
                            sha256=kept.sha256, storage_key=kept.storage_key,
                            uploaded_by_id=author.id))
    db.session.commit()

    result = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, app.config["SQLALCHEMY_DATABASE_URI"],
         str(tmp_path / "crash-instance"), str(app.config["DATA_DIR"])],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert result.returncode == 9, result.stderr
    orphan_key = result.stdout.split()[-1]
    evidence = EvidenceStore.for_app()
    assert evidence.exists(orphan_key)  # the crash left it behind

    referenced = select(Evidence.storage_key)
    assert storage.sweep(db.session, referenced) == []  # within the grace period: untouched
    for key in (orphan_key, kept.storage_key):
        age(evidence.path_for(key), hours=7)
    assert storage.sweep(db.session, referenced) == [orphan_key]
    assert not evidence.exists(orphan_key)
    assert evidence.sha256_of(kept.storage_key) == kept.sha256
    assert sorted(evidence.iter_keys()) == [kept.storage_key]


# ---------------------------------------------------------------- interrupted uploads (A.9)


def manifests(app) -> list[Path]:
    return sorted(evidence_root(app).glob(".incoming-upload-*"))


def test_an_upload_batch_names_its_files_until_the_commit(app):
    batch = storage.UploadBatch.for_app()
    blobs = [batch.add(b"file %d" % n) for n in range(3)]
    (manifest,) = manifests(app)
    assert manifest.read_text().split() == [b.storage_key for b in blobs]
    assert all(EvidenceStore.for_app().exists(b.storage_key) for b in blobs)
    batch.committed()
    assert manifests(app) == []
    assert all(EvidenceStore.for_app().exists(b.storage_key) for b in blobs)


def test_a_discarded_batch_leaves_nothing(app):
    batch = storage.UploadBatch.for_app()
    batch.add(b"one")
    batch.add(b"two")
    batch.discard()
    assert all_files(evidence_root(app)) == []


INTERRUPTED_UPLOAD = textwrap.dedent("""
    import os, sys
    from config import TestingConfig
    from taskflow import create_app
    from taskflow.core import storage

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1],
                     INSTANCE_DIR=sys.argv[2], DATA_DIR=sys.argv[3])
    with app.app_context():
        batch = storage.UploadBatch.for_app()
        for n in range(int(sys.argv[4])):
            print(batch.add(b"evidence number %d" % n).storage_key, flush=True)
        os._exit(9)  # killed before the rows were written
""")


def test_files_of_a_killed_upload_are_swept_within_minutes_and_referenced_ones_kept(
        app, make_milestone, make_user, tmp_path):
    from taskflow.assignments.models import Evidence, StatusUpdate

    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_UPLOAD, app.config["SQLALCHEMY_DATABASE_URI"],
         str(tmp_path / "killed-instance"), str(app.config["DATA_DIR"]), "40"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert result.returncode == 9, result.stderr
    orphans = result.stdout.split()
    assert len(orphans) == 40
    evidence = EvidenceStore.for_app()
    assert all(evidence.exists(key) for key in orphans)

    # A committed row that points at one of the listed files (it must survive every sweep),
    # and a file outside any upload manifest (left to the general 6-hour grace).
    author = make_user("office")
    update = StatusUpdate(milestone_id=make_milestone().id, author_id=author.id, progress=50)
    db.session.add(update)
    db.session.flush()
    db.session.add(Evidence(status_update_id=update.id, original_name="证明材料.pdf", size=1,
                            detected_type="pdf", content_type="application/pdf", sha256="0" * 64,
                            storage_key=orphans[0], uploaded_by_id=author.id))
    db.session.commit()
    loose = storage.store(b"written outside a batch")

    assert storage.sweep_interrupted(db.session, Evidence.storage_key) == []  # 0 minutes old
    (manifest,) = manifests(app)
    for path in [manifest, *(evidence.path_for(k) for k in orphans),
                 evidence.path_for(loose.storage_key)]:
        age(path, hours=16 / 60)  # 16 minutes: past the 15-minute default
    removed = storage.sweep_interrupted(db.session, Evidence.storage_key)
    assert sorted(removed) == sorted(orphans[1:])
    assert sorted(evidence.iter_keys()) == sorted([orphans[0], loose.storage_key])
    assert manifests(app) == []


def test_the_age_of_interrupted_uploads_is_a_setting(app):
    from taskflow.assignments.models import Evidence

    app.config["UPLOAD_ORPHAN_MINUTES"] = 60
    batch = storage.UploadBatch.for_app()
    blob = batch.add(b"half an upload")
    for path in (manifests(app)[0], EvidenceStore.for_app().path_for(blob.storage_key)):
        age(path, hours=0.5)
    assert storage.sweep_interrupted(db.session, Evidence.storage_key) == []
    app.config["UPLOAD_ORPHAN_MINUTES"] = 20
    assert storage.sweep_interrupted(db.session, Evidence.storage_key) == [blob.storage_key]


def test_the_scheduler_sweeps_interrupted_uploads_every_few_minutes(app):
    from taskflow import scheduler
    from taskflow.assignments import jobs

    table = {job_id: (func, trigger) for job_id, func, trigger in scheduler.job_table(app)}
    func, trigger = table["evidence_interrupted_sweep"]
    assert func is jobs.sweep_interrupted_uploads
    first = trigger.get_next_fire_time(None, datetime(2024, 3, 20, 10, 1, tzinfo=timezone.utc))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second - first == timedelta(minutes=5)

    batch = storage.UploadBatch.for_app()
    blob = batch.add(b"never committed")
    for path in (manifests(app)[0], EvidenceStore.for_app().path_for(blob.storage_key)):
        age(path, hours=1)
    scheduler.run_job(app, "evidence_interrupted_sweep", jobs.sweep_interrupted_uploads)
    assert not EvidenceStore.for_app().exists(blob.storage_key)
    assert manifests(app) == []
