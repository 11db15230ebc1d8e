"""Report submission with evidence (issue 12, A.2, A.7, A.8): a long upload does not hold the
database's write lock, the files of a report are capped, duplicates are stored once, active
content is refused, and a report that loses a race leaves no file behind."""

import io
import threading
import zipfile
from datetime import date

from sqlalchemy import func, select

from taskflow.assignments.models import Evidence, ExtensionRequest, Milestone, StatusUpdate
from taskflow.core import storage
from taskflow.extensions import db
from tests.conftest import TEST_PASSWORD


def page_text(response):
    return response.get_data(as_text=True)


def pdfs(pdf_factory, count: int) -> list[tuple[str, bytes]]:
    return [(f"佐证材料{n}.pdf", pdf_factory(f"evidence {n}")) for n in range(count)]


def signed_in_client(app, user):
    """A second browser, signed in as `user`."""
    other = app.test_client()
    response = other.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return other


def post_report(client, milestone_id, files, **fields):
    data = {"progress": "60", "narrative": "完成了季度工作", "problems": "", "next_steps": "",
            **fields}
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/milestones/{milestone_id}/updates", data=data,
                       content_type="multipart/form-data")


def manifests(app):
    return sorted((app.config["DATA_DIR"] / "evidence").glob(".incoming-upload-*"))


class PausedUpload:
    """Holds a report's upload inside its storage step (after its first file is on disk) until
    released: the point where the old code held SQLite's write lock."""

    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, batch, blob):
        if not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(60), "the test never released the upload"

    def __enter__(self):
        storage.blob_stored.connect(self)
        return self

    def __exit__(self, *exc):
        self.release.set()
        storage.blob_stored.disconnect(self)


def in_thread(app, func, results, key):
    def run():
        with app.app_context():
            results[key] = func()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- A.2: short write transaction


def test_a_long_upload_does_not_block_another_units_write(app, world, as_user, pdf_factory):
    uploader = as_user(world.users.reporter_a)
    other_unit = signed_in_client(app, world.users.reporter_b)
    results = {}
    with PausedUpload() as pause:
        upload = in_thread(app, lambda: post_report(uploader, world.ms_a.id,
                                                     pdfs(pdf_factory, 8)), results, "upload")
        assert pause.reached.wait(30), "the upload never reached its storage step"
        # While the upload is held in its storage step, town B asks for an extension.
        write = in_thread(app, lambda: other_unit.post(
            f"/milestones/{world.ms_b.id}/extensions",
            data={"requested_due_date": "2024-04-30", "reason": "企业走访未完成"}),
            results, "write")
        write.join(timeout=15)
        assert not write.is_alive(), "another unit's write waited for the upload"
        assert results["write"].status_code == 302
        assert upload.is_alive()  # still held: the write went through during the upload
        assert db.session.scalar(select(func.count(ExtensionRequest.id))) == 1
        assert db.session.scalar(select(func.count(Evidence.id))) == 0
        pause.release.set()
        upload.join(timeout=60)
    assert results["upload"].status_code == 302, page_text(results["upload"])
    update = db.session.scalar(select(StatusUpdate))
    assert len(update.evidence) == 8
    assert manifests(app) == []  # committed: no longer an interrupted upload


def test_a_report_that_loses_the_race_keeps_no_file(app, world, as_user, pdf_factory,
                                                    stored_files):
    """The milestone changes while the files are stored: the short write transaction sees the
    new version, refuses with a reload message, and the stored files are deleted at once."""
    uploader = as_user(world.users.reporter_a)
    office = signed_in_client(app, world.users.office)
    results = {}
    with PausedUpload() as pause:
        upload = in_thread(app, lambda: post_report(uploader, world.ms_a.id,
                                                     pdfs(pdf_factory, 3)), results, "upload")
        assert pause.reached.wait(30)
        milestone = db.session.get(Milestone, world.ms_a.id)
        edit = office.post(f"/planning/milestones/{world.ms_a.id}/edit", data={
            "version_id": str(milestone.version_id), "title": "2024年第1季度进展（调整）",
            "due_date": "2024-03-31", "weight": "1", "required_evidence": "总结"})
        assert edit.status_code == 302, page_text(edit)
        pause.release.set()
        upload.join(timeout=60)
    response = results["upload"]
    assert response.status_code == 409
    assert "完成了季度工作" in page_text(response)  # the text is kept for another try
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 0
    assert stored_files() == [] and manifests(app) == []


# ---------------------------------------------------------------- A.7: limits of one report


def test_more_files_than_the_cap_are_refused_with_the_limit(app, world, as_user, pdf_factory,
                                                            stored_files):
    assert app.config["REPORT_MAX_FILES"] == 20
    client = as_user(world.users.reporter_a)
    page = page_text(client.get(f"/milestones/{world.ms_a.id}"))
    assert "20" in page  # the form says how many files a report may carry
    response = post_report(client, world.ms_a.id, pdfs(pdf_factory, 21), narrative="保留的说明")
    assert response.status_code == 400
    text = page_text(response)
    assert "data-upload-error" in text and "20" in text and "21" in text
    assert "保留的说明" in text
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 0
    assert stored_files() == []


def test_the_cap_is_a_setting(app, world, as_user, pdf_factory):
    app.config["REPORT_MAX_FILES"] = 2
    client = as_user(world.users.reporter_a)
    assert post_report(client, world.ms_a.id, pdfs(pdf_factory, 3)).status_code == 400
    assert post_report(client, world.ms_a.id, pdfs(pdf_factory, 2)).status_code == 302


def test_identical_files_are_stored_once_and_the_reporter_is_told(world, as_user, pdf_factory,
                                                                  stored_files):
    client = as_user(world.users.reporter_a)
    same = pdf_factory("the same scan")
    response = post_report(client, world.ms_a.id, [("扫描件.pdf", same), ("扫描件(1).pdf", same),
                                                   ("其他.pdf", pdf_factory("other"))])
    assert response.status_code == 302
    update = db.session.scalar(select(StatusUpdate))
    assert sorted(e.original_name for e in update.evidence) == ["其他.pdf", "扫描件.pdf"]
    assert len(stored_files()) == 2
    page = page_text(client.get(response.headers["Location"]))
    assert "扫描件(1).pdf" in page and "扫描件.pdf" in page


def test_the_total_size_of_a_report_is_capped(app, world, as_user, pdf_factory, stored_files):
    app.config["REPORT_MAX_TOTAL_MB"] = 1
    client = as_user(world.users.reporter_a)
    big = [(f"大{n}.pdf", pdf_factory(f"x{n}")[:-6] + b" " * 600_000 + b"%%EOF\n")
           for n in range(2)]
    response = post_report(client, world.ms_a.id, big)
    assert response.status_code == 400
    assert "1 MB" in page_text(response)
    assert stored_files() == []
    assert post_report(client, world.ms_a.id, big[:1]).status_code == 302


# ---------------------------------------------------------------- A.8: through the page


def test_a_workbook_with_a_dde_formula_is_refused_on_the_report_form(world, as_user, pdf_factory,
                                                                     stored_files):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "=cmd|' /C calc'!A0"
    buffer = io.BytesIO()
    workbook.save(buffer)
    client = as_user(world.users.reporter_a)
    response = post_report(client, world.ms_a.id, [("台账.xlsx", buffer.getvalue()),
                                                   ("说明.pdf", pdf_factory("ok"))])
    assert response.status_code == 400
    text = page_text(response)
    assert "台账.xlsx" in text and "DDE" in text
    assert stored_files() == []


def test_evidence_is_always_served_as_an_attachment(world, as_user, pdf_factory):
    client = as_user(world.users.reporter_a)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("说明.txt", "材料")
    post_report(client, world.ms_a.id, [("报告.pdf", pdf_factory("a")), ("材料.zip",
                                                                       buffer.getvalue())])
    for evidence in db.session.scalars(select(Evidence)):
        response = client.get(f"/evidence/{evidence.id}/download")
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_refused_report_of_a_closed_milestone_stores_nothing(world, as_user, pdf_factory,
                                                             stored_files):
    milestone = db.session.get(Milestone, world.ms_a.id)
    milestone.state = "accepted"
    milestone.completed_on = date(2024, 3, 15)
    db.session.commit()
    client = as_user(world.users.reporter_a)
    response = post_report(client, world.ms_a.id, pdfs(pdf_factory, 2))
    assert response.status_code == 409
    assert stored_files() == [] and manifests(client.application) == []


# ---------------------------------------------------------------- A.9: a killed upload

KILLED_UPLOAD = r'''
import os, re, sys
from io import BytesIO
from config import TestingConfig
from taskflow import create_app
from taskflow.core import storage

stored = []

def die_after_three(batch, blob):
    stored.append(blob.storage_key)
    if len(stored) == 3:
        print(" ".join(stored), flush=True)
        os._exit(9)  # like kill -9 in the middle of the upload: no cleanup runs

storage.blob_stored.connect(die_after_three)
app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1], INSTANCE_DIR=sys.argv[2],
                 DATA_DIR=sys.argv[3])
client = app.test_client()
token = lambda html: re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
page = client.get("/login").get_data(as_text=True)
answer = client.post("/login", data={"username": sys.argv[4], "password": sys.argv[5],
                                     "csrf_token": token(page)})
assert answer.status_code == 302, answer.status_code
page = client.get(f"/milestones/{sys.argv[6]}").get_data(as_text=True)
client.post(f"/milestones/{sys.argv[6]}/updates", content_type="multipart/form-data", data={
    "csrf_token": token(page), "progress": "80", "narrative": "被中断的报送",
    "files": [(BytesIO(open(path, "rb").read()), f"材料{n}.pdf")
              for n, path in enumerate(sys.argv[7:])]})
print("NOT KILLED", flush=True)
'''


def test_the_files_of_a_killed_upload_are_swept_within_minutes(app, world, pdf_factory,
                                                               tmp_path):
    import os
    import subprocess
    import sys
    import time
    from datetime import datetime, timezone
    from pathlib import Path

    from taskflow import scheduler
    from taskflow.assignments import jobs
    from taskflow.core import clock

    paths = []
    for n in range(8):
        path = tmp_path / f"part{n}.pdf"
        path.write_bytes(pdf_factory(f"part {n}"))
        paths.append(str(path))
    reporter = world.users.reporter_a
    db.session.commit()
    result = subprocess.run(
        [sys.executable, "-c", KILLED_UPLOAD, app.config["SQLALCHEMY_DATABASE_URI"],
         str(tmp_path / "killed-instance"), str(app.config["DATA_DIR"]), reporter.username,
         TEST_PASSWORD, str(world.ms_a.id), *paths],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=180)
    assert result.returncode == 9, result.stdout + result.stderr
    orphans = result.stdout.split()
    evidence = storage.EvidenceStore.for_app()
    assert len(orphans) == 3 and all(evidence.exists(key) for key in orphans)
    assert db.session.scalar(select(func.count(Evidence.id))) == 0

    with clock.frozen_at(datetime.now(timezone.utc)):  # the files' real age, not the test's day
        scheduler.run_job(app, "evidence_interrupted_sweep", jobs.sweep_interrupted_uploads)
        assert all(evidence.exists(key) for key in orphans)  # could still be in flight
        sixteen_minutes_ago = time.time() - 16 * 60
        for path in [*manifests(app), *(evidence.path_for(key) for key in orphans)]:
            os.utime(path, (sixteen_minutes_ago, sixteen_minutes_ago))
        scheduler.run_job(app, "evidence_interrupted_sweep", jobs.sweep_interrupted_uploads)
    assert list(evidence.iter_keys()) == [] and manifests(app) == []
