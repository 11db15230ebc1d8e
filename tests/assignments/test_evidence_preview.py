"""Evidence preview: PDFs and images served inline (sniffed type, nosniff, sandboxing CSP) to
those who may see them, the pdf.js viewer page and its own CSP, Office files download-only, a
tampered row never shown; a resubmission after a return keeps the files not removed."""

import re

from sqlalchemy import func, select

from taskflow.assignments.models import Evidence, Milestone, StatusUpdate
from taskflow.audit.models import AuditEvent
from taskflow.core import storage
from taskflow.core.security import INLINE_FILE_POLICY, PDF_VIEWER_POLICY
from taskflow.extensions import db
from tests.helpers import docx_bytes, fresh, jpeg_bytes, page_objects, pdf_document, png_bytes





def square_pdf() -> bytes:
    """A one-page PDF drawing a filled blue square (no fonts needed to show something)."""
    return pdf_document(page_objects(b"0 0 1 rg 20 20 160 160 re f"))


EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode" + b"\x00" * 200


def text(response) -> str:
    return response.get_data(as_text=True)


def evidence_named(name: str) -> Evidence:
    return db.session.scalars(select(Evidence).where(Evidence.original_name == name)
                              .order_by(Evidence.id.desc())).first()


def report(as_user, submit, world, files):
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=files)
    assert response.status_code == 302, text(response)
    fresh()
    return db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()


# ---------------------------------------------------------------- inline serving


def test_a_pdf_and_images_are_served_inline_with_their_sniffed_type_and_a_sandbox(
        world, as_user, submit):
    pdf, png, jpeg = square_pdf(), png_bytes(), jpeg_bytes()
    report(as_user, submit, world, [("季度报告.pdf", pdf), ("现场照片.png", png),
                                    ("走访照片.jpg", jpeg)])
    client = as_user(world.users.office)
    for name, content, mimetype in (("季度报告.pdf", pdf, "application/pdf"),
                                    ("现场照片.png", png, "image/png"),
                                    ("走访照片.jpg", jpeg, "image/jpeg")):
        response = client.get(f"/evidence/{evidence_named(name).id}/inline")
        assert response.status_code == 200, name
        assert response.data == content
        assert response.mimetype == mimetype
        assert response.headers["Content-Disposition"].startswith("inline;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        assert policy == INLINE_FILE_POLICY
        assert policy.startswith("sandbox;") and "default-src 'none'" in policy
        assert "script-src" not in policy and "'unsafe" not in policy
        assert response.headers["Cache-Control"] == "no-store"


def test_the_viewer_page_has_its_own_policy_and_loads_pdfjs_from_this_site(
        world, as_user, submit):
    report(as_user, submit, world, [("季度报告.pdf", square_pdf())])
    evidence = evidence_named("季度报告.pdf")
    client = as_user(world.users.office)
    response = client.get(f"/evidence/{evidence.id}/view")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == PDF_VIEWER_POLICY
    assert "worker-src 'self'" in PDF_VIEWER_POLICY and "'unsafe" not in PDF_VIEWER_POLICY
    page = text(response)
    assert f'data-src="/evidence/{evidence.id}/inline"' in page
    assert "<script>" not in page and " style=" not in page
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert any(s.startswith("/assets/pdfjs/pdf.min.js") for s in scripts)
    assert all(s.startswith("/") and not s.startswith("//") for s in scripts)
    worker = re.search(r'data-worker="([^"]+)"', page).group(1)
    cmaps = re.search(r'data-cmaps="([^"]+)"', page).group(1)
    for url in (worker, scripts[-1], cmaps + "Adobe-GB1-UCS2.bcmap"):
        assert client.get(url).status_code == 200, url
    # pdf.js never builds code from a PDF's fonts (CVE-2024-4367's fix; the CSP forbids eval too).
    viewer_js = client.get(scripts[-1]).get_data(as_text=True)
    assert "isEvalSupported: false" in viewer_js and "enableXfa: false" in viewer_js
    # Other pages keep the site-wide policy.
    assert client.get(f"/updates/{evidence.status_update_id}").headers[
        "Content-Security-Policy"] != PDF_VIEWER_POLICY


def test_another_unit_gets_404_and_the_lead_unit_and_office_may_look(world, as_user, submit):
    report(as_user, submit, world, [("季度报告.pdf", square_pdf()), ("现场照片.png", png_bytes())])
    pdf, png = evidence_named("季度报告.pdf"), evidence_named("现场照片.png")
    urls = [f"/evidence/{pdf.id}/inline", f"/evidence/{pdf.id}/view",
            f"/evidence/{png.id}/inline"]
    client = as_user(world.users.reporter_b)
    for url in urls:
        assert client.get(url).status_code == 404, url
    client.post("/logout")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for user in (world.users.reporter_lead, world.users.office, world.users.supervisor,
                 world.users.head_a):
        client = as_user(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user.role, url)
    assert as_user(world.users.office).get("/evidence/999999/inline").status_code == 404


def test_an_office_file_is_download_only(world, as_user, submit):
    report(as_user, submit, world, [("工作总结.docx", docx_bytes()), ("现场照片.png", png_bytes())])
    doc = evidence_named("工作总结.docx")
    client = as_user(world.users.office)
    assert client.get(f"/evidence/{doc.id}/inline").status_code == 415
    assert client.get(f"/evidence/{doc.id}/view").status_code == 404
    assert client.get(f"/evidence/{evidence_named('现场照片.png').id}/view").status_code == 404
    download = client.get(f"/evidence/{doc.id}/download")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    page = text(client.get(f"/updates/{doc.status_update_id}"))
    item = page[page.index(f'data-evidence-item="{doc.id}"'):]
    item = item[:item.index("</li>")]
    assert 'data-preview="download"' in item and "data-download-to-view" in item
    assert "下载后查看" in item
    assert f"/evidence/{doc.id}/inline" not in page and f"/evidence/{doc.id}/view" not in page


def test_an_exe_renamed_pdf_is_refused_at_upload_and_a_crafted_row_is_never_inline(
        world, as_user, submit, stored_files):
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=[("报告.pdf", EXE)])
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Evidence.id))) == 0 and stored_files() == []
    # Suppose it got stored anyway (a restored backup, a hand-edited row): still never shown.
    update = report(as_user, submit, world, [("真的.pdf", square_pdf())])
    blob = storage.store(EXE)
    for name, kind, mimetype in (("报告.pdf", "pdf", "application/pdf"),
                                 ("照片.png", "png", "image/png"),
                                 ("照片.jpg", "jpeg", "image/jpeg")):
        db.session.add(Evidence(status_update_id=update.id, original_name=name, size=len(EXE),
                                detected_type=kind, content_type=mimetype, sha256=blob.sha256,
                                storage_key=blob.storage_key,
                                uploaded_by_id=world.users.reporter_a.id))
    db.session.commit()
    client = as_user(world.users.office)
    for name in ("报告.pdf", "照片.png", "照片.jpg"):
        crafted = evidence_named(name)
        response = client.get(f"/evidence/{crafted.id}/inline")
        assert response.status_code == 415, name
        assert b"This program" not in response.data
    assert client.get(f"/evidence/{evidence_named('报告.pdf').id}/view").status_code == 415


def test_the_update_and_milestone_pages_show_previews(world, as_user, submit):
    update = report(as_user, submit, world, [("季度报告.pdf", square_pdf()),
                                             ("现场照片.png", png_bytes())])
    pdf, png = evidence_named("季度报告.pdf"), evidence_named("现场照片.png")
    for user, url in ((world.users.office, f"/updates/{update.id}"),
                      (world.users.reporter_a, f"/milestones/{world.ms_a.id}")):
        page = text(as_user(user).get(url))
        assert f'href="/evidence/{pdf.id}/view" data-evidence-view' in page
        assert re.search(rf'<img src="/evidence/{png.id}/inline" loading="lazy"', page)
        assert f'href="/evidence/{png.id}/inline"' in page and "data-evidence-full" in page
        assert f'data-evidence="{pdf.id}"' in page  # the download link stays
        assert "/static/evidence/evidence.js" in page and "/static/evidence/evidence.css" in page


def test_the_review_page_runs_a_bounded_number_of_queries(world, as_user, submit,
                                                          count_queries):
    client = as_user(world.users.office)

    def count(update_id):
        with count_queries() as counter:
            assert client.get(f"/updates/{update_id}").status_code == 200
        return counter.count

    few = report(as_user, submit, world, [("1.pdf", square_pdf()), ("1.png", png_bytes(2, 2))])
    client = as_user(world.users.office)
    client.post(f"/updates/{few.id}/review", data={
        "decision": "return", "reason_code": "incomplete", "comment": "补充材料"})
    as_user(world.users.reporter_a)
    files = [(f"{n}.png", png_bytes(n + 3, 2)) for n in range(8)]
    response = submit(world.ms_a.id, files=files, kept_from=str(few.id))
    assert response.status_code == 302, text(response)
    many = db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()
    client = as_user(world.users.office)
    assert len(many.evidence) == 10
    assert count(many.id) <= count(few.id) + 1
    assert count(many.id) <= 25


# ---------------------------------------------------------------- a returned report keeps its files


def returned_with_files(world, as_user, submit):
    first = report(as_user, submit, world, [("一稿.pdf", square_pdf()), ("现场照片.png", png_bytes()),
                                            ("工作总结.docx", docx_bytes())])
    client = as_user(world.users.office)
    response = client.post(f"/updates/{first.id}/review", data={
        "decision": "return", "reason_code": "incomplete", "comment": "请补充台账"})
    assert response.status_code == 302
    fresh()
    return db.session.get(StatusUpdate, first.id)


def test_a_resubmission_keeps_the_files_not_removed_and_adds_new_ones(
        world, as_user, submit, stored_files):
    first = returned_with_files(world, as_user, submit)
    files_before = stored_files()
    client = as_user(world.users.reporter_a)
    page = text(client.get(f"/milestones/{world.ms_a.id}"))
    assert f'data-kept-files="{first.id}"' in page
    assert re.search(rf'name="kept_from" type="hidden" value="{first.id}"', page)
    photo = evidence_named("现场照片.png")
    assert f'name="remove_evidence" value="{photo.id}"' in page
    response = submit(world.ms_a.id, files=[("台账.pdf", square_pdf() + b"\n")],
                      progress="80", kept_from=str(first.id), remove_evidence=[str(photo.id)])
    assert response.status_code == 302, text(response)
    fresh()
    second = db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()
    assert second.id != first.id and second.state == "submitted"
    assert sorted(e.original_name for e in second.evidence) == sorted(
        ["一稿.pdf", "工作总结.docx", "台账.pdf"])
    originals = {e.original_name: e for e in first.evidence}
    for kept in second.evidence:
        if kept.original_name in originals:
            source = originals[kept.original_name]
            assert kept.kept_from_id == source.id
            assert (kept.storage_key, kept.sha256, kept.size, kept.uploaded_at) == (
                source.storage_key, source.sha256, source.size, source.uploaded_at)
    # Nothing re-uploaded, nothing deleted: only the new file was written.
    after = stored_files()
    assert set(files_before) <= set(after) and len(after) == len(files_before) + 1
    # The returned report still lists all three of its files.
    assert len(first.evidence) == 3
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.keep")).one()
    assert event.object_id == second.id
    assert "现场照片.png" in str(event.after) and "一稿.pdf" in str(event.after)
    # The office reviews the new report with the kept files previewed; the kept PDF opens.
    client = as_user(world.users.office)
    page = text(client.get(f"/updates/{second.id}"))
    kept_pdf = next(e for e in second.evidence if e.original_name == "一稿.pdf")
    assert f"/evidence/{kept_pdf.id}/view" in page
    assert client.get(f"/evidence/{kept_pdf.id}/inline").data == square_pdf()
    # The assignment page lists each file once.
    page = text(client.get(f"/assignments/{world.a.id}"))
    assert page.count(">一稿.pdf<") == 1


def test_removing_every_kept_file_and_adding_none_is_allowed(world, as_user, submit):
    first = returned_with_files(world, as_user, submit)
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, kept_from=str(first.id),
                      remove_evidence=[str(e.id) for e in first.evidence])
    assert response.status_code == 302
    fresh()
    second = db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()
    assert second.evidence == [] and len(first.evidence) == 3


def test_a_new_file_identical_to_a_kept_one_is_attached_once(world, as_user, submit,
                                                             stored_files):
    first = returned_with_files(world, as_user, submit)
    before = stored_files()
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=[("再传一次.png", png_bytes())],
                      kept_from=str(first.id))
    assert response.status_code == 302
    fresh()
    second = db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()
    assert sorted(e.original_name for e in second.evidence) == sorted(
        ["一稿.pdf", "工作总结.docx", "现场照片.png"])
    assert stored_files() == before


def test_kept_files_count_against_the_report_limits(world, app, as_user, submit):
    first = returned_with_files(world, as_user, submit)
    app.config["REPORT_MAX_FILES"] = 4
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, kept_from=str(first.id),
                      files=[("a.png", png_bytes(2, 2)), ("b.png", png_bytes(3, 2))])
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 1
    response = submit(world.ms_a.id, kept_from=str(first.id),
                      remove_evidence=[str(evidence_named("工作总结.docx").id)],
                      files=[("a.png", png_bytes(2, 2)), ("b.png", png_bytes(3, 2))])
    assert response.status_code == 302


def test_a_stale_form_is_refused_and_nothing_is_stored(world, as_user, submit, stored_files):
    first = returned_with_files(world, as_user, submit)
    before = stored_files()
    as_user(world.users.reporter_a)
    # A form opened before the return listed no files; one from another report is no better.
    for stale in ("", str(first.id + 100)):
        response = submit(world.ms_a.id, files=[("新.pdf", square_pdf() + b"\n")],
                          kept_from=stale)
        assert response.status_code == 409, stale
        assert f'value="{first.id}"' in text(response)
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 1
    assert stored_files() == before
    assert db.session.get(Milestone, world.ms_a.id).state == "returned"


def test_a_form_without_the_kept_list_keeps_nothing(world, as_user, submit):
    returned_with_files(world, as_user, submit)
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=[("二稿.pdf", square_pdf() + b"\n")])
    assert response.status_code == 302
    fresh()
    second = db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()
    assert [e.original_name for e in second.evidence] == ["二稿.pdf"]


def test_files_of_another_units_report_cannot_be_kept(world, as_user, submit):
    first = returned_with_files(world, as_user, submit)
    as_user(world.users.reporter_b)
    response = submit(world.ms_b.id, kept_from=str(first.id))
    assert response.status_code == 409
    response = submit(world.ms_b.id, kept_from="")
    assert response.status_code == 302
    fresh()
    theirs = db.session.scalars(select(StatusUpdate).where(
        StatusUpdate.milestone_id == world.ms_b.id)).one()
    assert theirs.evidence == []
