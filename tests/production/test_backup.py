"""flask backup create / verify / restore: a round trip into a fresh instance, on both databases."""

import hashlib
import json
import os
import tarfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from config import TestingConfig
from taskflow import create_app
from taskflow.core.backup import BackupError, create_backup, restore_backup, verify_backup
from taskflow.extensions import db
from tests.helpers import POSTGRES_URL, postgres_database



TARGETS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _fresh_app(tmp_path: Path, kind: str, name: str):
    uri = (postgres_database(name, empty=True) if kind == "postgresql"
           else f"sqlite:///{tmp_path / f'{name}.sqlite3'}")
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=uri,
                     INSTANCE_DIR=tmp_path / f"{name}-instance", DATA_DIR=tmp_path / f"{name}-data")
    return app


def _table_counts() -> dict[str, int]:
    names = [n for n in inspect(db.engine).get_table_names() if n != "alembic_version"]
    with db.engine.connect() as conn:
        return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar() for n in names}


def _file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def populated(app, make_user, make_milestone, make_unit, make_task):
    """Rows in many tables (with audit events and a unit parent) and files under DATA_DIR."""
    from taskflow.core import audit

    parent = make_unit(name="区科技局", kind="department", peer_group="department")
    child = make_unit(name="产业链专班（甲）", kind="task_force", peer_group="park_task_force",
                      parent_id=parent.id)
    task = make_task()
    for unit in (parent, child):
        make_milestone(assignment=None, due=date(2024, 6, 30))
    office = make_user("office")
    make_user("reporter", unit=child)
    audit.record(office, "test.backup", child, after={"name": child.name, "when": date(2024, 1, 2)})
    db.session.commit()
    evidence = Path(app.config["DATA_DIR"]) / "evidence" / "ab" / "cd"
    evidence.mkdir(parents=True)
    (evidence / ("0" * 32)).write_bytes(b"%PDF-1.4 evidence one\n" * 100)
    (evidence / ("1" * 32)).write_bytes(os.urandom(4096))
    (Path(app.config["DATA_DIR"]) / "evidence" / "ab" / ".incoming-partial").write_bytes(b"x")
    (Path(app.config["DATA_DIR"]) / "imports").mkdir()
    (Path(app.config["DATA_DIR"]) / "imports" / "upload.xlsx").write_bytes(b"transient")
    return task


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("archive", [False, True], ids=["dir", "tar"])
def test_round_trip_into_a_fresh_instance(app, populated, tmp_path, target, archive):
    source_counts = _table_counts()
    source_files = _file_hashes(Path(app.config["DATA_DIR"]) / "evidence")
    assert sum(source_counts.values()) >= 10 and len(source_files) == 3  # 2 + the partial upload

    path = create_backup(tmp_path / "backups", archive=archive)
    assert path.name.startswith("taskflow-backup-")

    fresh = _fresh_app(tmp_path, target, f"restore_{int(archive)}")
    with fresh.app_context():
        counts = restore_backup(path)
        restored = _table_counts()
        assert restored == source_counts
        assert {k: v for k, v in counts.items()} == {k: source_counts[k] for k in counts}
        restored_files = _file_hashes(Path(fresh.config["DATA_DIR"]) / "evidence")
        # Unfinished uploads and transient imports are not part of a backup.
        expected = {k: v for k, v in source_files.items() if ".incoming-" not in k}
        assert restored_files == expected
        assert not (Path(fresh.config["DATA_DIR"]) / "imports").exists()

        # The content, not only the counts: the unit hierarchy, names and audit JSON came back.
        from taskflow.audit.models import AuditEvent
        from taskflow.units.models import Unit

        child = db.session.scalar(select(Unit).where(Unit.name == "产业链专班（甲）"))
        assert child.parent_id is not None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "test.backup"))
        assert event.after == {"name": "产业链专班（甲）", "when": "2024-01-02"}
        assert event.occurred_at.tzinfo is not None

        # New rows get fresh ids (PostgreSQL sequences were moved past the restored ids).
        top = db.session.scalar(select(func.max(Unit.id)))
        unit = Unit(plan_id=child.plan_id, name="新单位", kind="town", peer_group="street_town",
                    sort_order=99)
        db.session.add(unit)
        db.session.commit()
        assert unit.id > top
        db.session.remove()
        db.engine.dispose()


def test_backup_verifies_and_refuses_a_tampered_file_before_writing(app, populated, tmp_path):
    path = create_backup(tmp_path / "backups")
    manifest = verify_backup(path)
    assert manifest["format"] == "taskflow-backup/1"
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())
    evidence = next(k for k in manifest["files"] if k.startswith("files/evidence/"))
    with open(path / evidence, "r+b") as handle:
        handle.write(b"tampered")

    fresh = _fresh_app(tmp_path, "sqlite", "tampered")
    with fresh.app_context():
        with pytest.raises(BackupError, match="hash mismatch"):
            restore_backup(path)
        assert not inspect(db.engine).get_table_names()  # nothing was written
        assert not any(Path(fresh.config["DATA_DIR"]).rglob("*"))
        db.engine.dispose()


def test_a_row_count_that_does_not_match_the_manifest_is_refused(app, populated, tmp_path):
    path = create_backup(tmp_path / "backups")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["tables"]["units"]["rows"] += 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="units"):
        verify_backup(path)


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(app, populated, tmp_path):
    path = create_backup(tmp_path / "backups")
    before = _table_counts()
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(path)
    # --force replaces the rows with the backup's.
    from taskflow.units.models import Unit

    db.session.add(Unit(plan_id=populated.plan_id, name="备份后新增", kind="town",
                        peer_group="street_town", sort_order=50))
    db.session.commit()
    db.session.remove()
    restore_backup(path, force=True)
    assert _table_counts() == before


def test_tar_with_a_path_outside_the_backup_is_refused(tmp_path, app):
    evil = tmp_path / "evil.tar"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w") as tar:
        tar.add(payload, arcname="../escape.txt")
    with pytest.raises(BackupError, match="unsafe path"):
        restore_backup(evil)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_cli_create_verify_restore(app, populated, runner, tmp_path):
    source_counts = _table_counts()
    result = runner.invoke(args=["backup", "create", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "backup written" in result.output
    (path,) = [p for p in (tmp_path / "cli").iterdir() if not p.name.endswith(".verified.json")]
    result = runner.invoke(args=["backup", "verify", str(path)])
    assert result.exit_code == 0 and "backup ok" in result.output
    result = runner.invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1 and "not empty" in result.output

    fresh = _fresh_app(tmp_path, "sqlite", "cli")
    with fresh.app_context():  # the CLI runs in the current app context, as `flask` would
        result = fresh.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert result.exit_code == 0, result.output
        assert "restored" in result.output
        assert _table_counts() == source_counts
        db.engine.dispose()
