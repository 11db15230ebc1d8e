"""Reporting through the pages: the form, uploads and their refusals, review, downloads."""

import io
import zipfile
from datetime import date
from urllib.parse import quote

from sqlalchemy import func, select

from taskflow.assignments.models import Evidence, ExtensionRequest, Milestone, StatusUpdate
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db


def page_text(response):
    return response.get_data(as_text=True)


def test_reporter_submits_with_two_files_and_office_sees_it_in_the_queue(
        world, as_user, submit, pdf_bytes, stored_files):
    as_user(world.users.reporter_a)
    page = page_text(as_user(world.users.reporter_a).get(f"/milestones/{world.ms_a.id}"))
    assert 'type="file"' in page and "multiple" in page and "50 MB" in page
    response = submit(world.ms_a.id, files=[("季度报告.pdf", pdf_bytes),
                                            ("照片说明.pdf", pdf_bytes + b"\n")],
                      problems="人手不足", next_steps="继续走访")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/milestones/{world.ms_a.id}")
    update = db.session.scalar(select(StatusUpdate))
    assert update.progress == 60 and update.problems == "人手不足"
    assert sorted(e.original_name for e in update.evidence) == ["季度报告.pdf", "照片说明.pdf"]
    assert len(stored_files()) == 2
    client = as_user(world.users.office)
    queue = page_text(client.get("/review"))
    assert "古南街道" in queue and f'data-update="{update.id}"' in queue
    detail = page_text(client.get(f"/updates/{update.id}"))
    assert "季度报告.pdf" in detail and 'action="/updates/%d/review"' % update.id in detail


def test_download_keeps_the_chinese_file_name(world, as_user, submit, pdf_bytes):
    client = as_user(world.users.reporter_a)
    submit(world.ms_a.id, files=[("綦江区科技型企业培育情况报告.pdf", pdf_bytes)])
    evidence = db.session.scalar(select(Evidence))
    response = client.get(f"/evidence/{evidence.id}/download")
    assert response.status_code == 200
    assert response.data == pdf_bytes
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + quote("綦江区科技型企业培育情况报告.pdf") in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_exe_renamed_pdf_is_refused_and_the_text_is_kept(world, as_user, submit, stored_files):
    as_user(world.users.reporter_a)
    exe = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode" + b"\x00" * 200
    response = submit(world.ms_a.id, files=[("报告.pdf", exe)], narrative="我写了很长的说明")
    assert response.status_code == 400
    page = page_text(response)
    assert "报告.pdf" in page and "我写了很长的说明" in page
    assert "data-upload-error" in page
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 0
    assert stored_files() == []
    assert db.session.get(Milestone, world.ms_a.id).state == "pending"


def test_one_bad_file_refuses_the_whole_report(world, as_user, submit, pdf_bytes, stored_files):
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=[("好的.pdf", pdf_bytes), ("病毒.exe", b"MZ....")])
    assert response.status_code == 400
    assert ".exe" in page_text(response)
    assert stored_files() == [] and db.session.scalar(select(func.count(Evidence.id))) == 0


def test_oversized_file_is_refused_with_the_limit(world, app, as_user, submit, pdf_bytes):
    app.config["MAX_UPLOAD_MB"] = 1
    as_user(world.users.reporter_a)
    big = pdf_bytes[:-6] + b" " * (1024 * 1024 + 10) + b"%%EOF\n"
    response = submit(world.ms_a.id, files=[("大文件.pdf", big)], narrative="保留的文字")
    assert response.status_code == 400
    page = page_text(response)
    assert "1 MB" in page and "保留的文字" in page
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 0


def test_request_over_the_hard_cap_gets_the_413_page(world, app, as_user, submit, pdf_bytes):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=[("大.pdf", pdf_bytes + b" " * 100_000)])
    assert response.status_code == 413
    assert "50 MB" in page_text(response)


def test_path_in_file_name_is_reduced_to_the_base_name(world, as_user, submit, pdf_bytes,
                                                       stored_files):
    as_user(world.users.reporter_a)
    response = submit(world.ms_a.id, files=[("../../etc/证明.pdf", pdf_bytes),
                                            ("/home/张三/桌面/照片.pdf", pdf_bytes + b"\n")])
    assert response.status_code == 302
    names = sorted(db.session.scalars(select(Evidence.original_name)))
    assert names == ["照片.pdf", "证明.pdf"]
    evidence_root = stored_files()[0].parents[2]
    assert all(p.is_relative_to(evidence_root) for p in stored_files())


def test_empty_form_gets_clear_messages(world, as_user, client):
    as_user(world.users.reporter_a)
    response = client.post(f"/milestones/{world.ms_a.id}/updates", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    page = page_text(response)
    assert "请填写进展" in page or "0 到 100" in page
    assert "请描述" in page
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 0


def test_zip_with_an_executable_is_refused(world, as_user, submit):
    as_user(world.users.reporter_a)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("说明.txt", "hello")
        archive.writestr("setup.exe", b"MZ" + b"\x00" * 100)
    response = submit(world.ms_a.id, files=[("材料.zip", buffer.getvalue())])
    assert response.status_code == 400
    assert "setup.exe" in page_text(response)


def test_return_with_reason_then_unit_sees_it_resubmits_and_office_accepts(
        world, as_user, submit, pdf_bytes):
    as_user(world.users.reporter_a)
    submit(world.ms_a.id, files=[("一稿.pdf", pdf_bytes)])
    first = db.session.scalar(select(StatusUpdate))
    client = as_user(world.users.office)
    # A return without a comment loses nothing and says why.
    response = client.post(f"/updates/{first.id}/review",
                           data={"decision": "return", "reason_code": "figures_inconsistent"})
    assert response.status_code == 409
    assert db.session.get(StatusUpdate, first.id).state == "submitted"
    response = client.post(f"/updates/{first.id}/review",
                           data={"decision": "return", "reason_code": "figures_inconsistent",
                                 "comment": "企业数量与台账不一致"})
    assert response.status_code == 302
    client = as_user(world.users.reporter_a)
    workspace = page_text(client.get("/my"))
    assert "数据不一致" in workspace or "数据前后不一致" in workspace
    assert "企业数量与台账不一致" in workspace
    assignment_page = page_text(client.get(f"/assignments/{world.a.id}"))
    assert "企业数量与台账不一致" in assignment_page
    milestone_page = page_text(client.get(f"/milestones/{world.ms_a.id}"))
    assert "企业数量与台账不一致" in milestone_page and "重新报送" in milestone_page
    submit(world.ms_a.id, files=[("二稿.pdf", pdf_bytes + b"\n")], progress="100")
    second = db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.id.desc())).first()
    assert second.id != first.id
    client = as_user(world.users.office)
    assert client.post(f"/updates/{second.id}/review",
                       data={"decision": "accept"}).status_code == 302
    milestone = db.session.get(Milestone, world.ms_a.id)
    assert milestone.state == "accepted" and milestone.completed_on == date(2024, 3, 20)
    client = as_user(world.users.reporter_a)
    page = page_text(client.get(f"/assignments/{world.a.id}"))
    assert 'data-assignment-light="green"' in page
    # history kept: both reports, both files
    assert "一稿.pdf" in page and "二稿.pdf" in page
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"status_update.submit", "status_update.return", "status_update.accept"} <= actions


def test_double_review_is_refused_cleanly(world, as_user, submit):
    as_user(world.users.reporter_a)
    submit(world.ms_a.id)
    update = db.session.scalar(select(StatusUpdate))
    client = as_user(world.users.office)
    response = client.post(f"/updates/{update.id}/review", data={"decision": "accept"})
    assert response.status_code == 302
    response = client.post(f"/updates/{update.id}/review",
                           data={"decision": "return", "reason_code": "incomplete",
                                 "comment": "x"})
    assert response.status_code == 403 or response.status_code == 409
    assert db.session.get(StatusUpdate, update.id).state == "accepted"


def test_sign_off_queue_and_sign_off(world, as_user, submit):
    world.a.requires_sign_off = True
    db.session.commit()
    as_user(world.users.reporter_a)
    submit(world.ms_a.id)
    update = db.session.scalar(select(StatusUpdate))
    client = as_user(world.users.office)
    assert f'data-update="{update.id}"' not in page_text(client.get("/review"))
    client = as_user(world.users.head_a)
    queue = page_text(client.get("/sign-off"))
    assert f'data-update="{update.id}"' in queue
    assert client.post(f"/updates/{update.id}/sign-off",
                       data={"decision": "approve"}).status_code == 302
    assert db.session.get(StatusUpdate, update.id).state == "signed_off"
    client = as_user(world.users.office)
    assert f'data-update="{update.id}"' in page_text(client.get("/review"))


def test_review_queue_filters_and_oldest_first(world, as_user, submit, frozen):
    from datetime import timedelta

    from taskflow.core import clock

    as_user(world.users.reporter_b)
    with clock.frozen_at(frozen - timedelta(days=2)):
        submit(world.ms_b.id)
    as_user(world.users.reporter_a)
    submit(world.ms_a.id)
    client = as_user(world.users.office)
    page = page_text(client.get("/review"))
    assert page.index("文龙街道</td>") < page.index("古南街道</td>")
    filtered = page_text(client.get(f"/review?unit={world.town_a.id}"))
    assert "古南街道</td>" in filtered and "文龙街道</td>" not in filtered
    by_task = page_text(client.get(f"/review?task={world.other_task.id}"))
    assert "古南街道</td>" not in by_task
    accepted = page_text(client.get("/review?state=accepted"))
    assert "古南街道</td>" not in accepted


def test_extension_request_and_grant_through_pages(world, as_user, client):
    as_user(world.users.reporter_a)
    response = client.post(f"/milestones/{world.ms_a.id}/extensions",
                           data={"requested_due_date": "2024-04-30", "reason": "等待统计数据"})
    assert response.status_code == 302
    client = as_user(world.users.office)
    queue = page_text(client.get("/extensions"))
    assert "等待统计数据" in queue
    request = db.session.scalar(select(ExtensionRequest))
    assert client.post(f"/extensions/{request.id}/decide",
                       data={"decision": "grant", "comment": "同意"}).status_code == 302
    client = as_user(world.users.reporter_a)
    page = page_text(client.get(f"/milestones/{world.ms_a.id}"))
    assert "2024-04-30" in page and 'data-original-due="2024-03-31"' in page


def test_extension_after_due_date_is_refused_with_message(world, as_user, client):
    from datetime import datetime

    from taskflow.core import clock

    with clock.frozen_at(datetime(2024, 4, 2, 9, 0, tzinfo=clock.LOCAL_TZ)):
        as_user(world.users.reporter_a)
        page = page_text(client.get(f"/milestones/{world.ms_a.id}"))
        assert "data-extension-closed" in page
        response = client.post(f"/milestones/{world.ms_a.id}/extensions",
                               data={"requested_due_date": "2024-04-30", "reason": "晚了"})
    assert response.status_code == 409
    assert "已过截止日期（2024-03-31）" in page_text(response)
    assert db.session.scalar(select(func.count(ExtensionRequest.id))) == 0


def test_extension_with_an_earlier_date_keeps_the_reason(world, as_user, client):
    as_user(world.users.reporter_a)
    response = client.post(f"/milestones/{world.ms_a.id}/extensions",
                           data={"requested_due_date": "2024-03-01", "reason": "统计数据未出"})
    assert response.status_code == 409
    page = page_text(response)
    assert "新的日期须晚于当前截止日期" in page and "统计数据未出" in page


def test_lead_unit_reads_team_updates_and_writes_consolidated_report(world, as_user, submit):
    as_user(world.users.reporter_a)
    submit(world.ms_a.id, narrative="古南街道季度进展")
    update = db.session.scalar(select(StatusUpdate))
    client = as_user(world.users.reporter_lead)
    page = page_text(client.get(f"/assignments/{world.lead.id}"))
    assert f'data-team-update="{update.id}"' in page
    assert client.get(f"/updates/{update.id}").status_code == 200
    response = client.post(f"/assignments/{world.lead.id}/reports/new",
                           data={"title": "一季度汇总", "body": "各单位进展顺利",
                                 "cite": [str(update.id)]})
    assert response.status_code == 302
    page = page_text(client.get(f"/assignments/{world.lead.id}"))
    assert "一季度汇总" in page and f"/updates/{update.id}" in page


def test_second_submission_while_one_waits_is_refused_and_keeps_the_text(world, as_user, submit):
    as_user(world.users.reporter_a)
    assert submit(world.ms_a.id, narrative="同事先报送了").status_code == 302
    response = submit(world.ms_a.id, narrative="我的第二份说明")
    assert response.status_code == 409
    page = page_text(response)
    assert "已有报送材料正在等待审核" in page and "我的第二份说明" in page
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 1


def test_pages_speak_english_on_request(world, as_user, client, submit):
    as_user(world.users.reporter_a)
    client.post("/locale", data={"locale": "en"})
    page = page_text(client.get("/my"))
    assert "My tasks" in page and "Next milestone" in page and "我的任务" not in page
    page = page_text(client.get(f"/milestones/{world.ms_a.id}"))
    assert "Report progress" in page and "Evidence files" in page


def test_evidence_sweep_removes_orphans_only(world, app, runner, as_user, submit, pdf_bytes,
                                             stored_files, frozen):
    import os

    from taskflow.core.storage import EvidenceStore

    as_user(world.users.reporter_a)
    submit(world.ms_a.id, files=[("证明.pdf", pdf_bytes)])
    kept = stored_files()
    orphan = EvidenceStore.for_app(app).store(b"left by a crash")
    old = frozen.timestamp() - 7 * 3600  # older than the 6-hour grace, on the app's clock
    for path in stored_files():
        os.utime(path, (old, old))
    result = runner.invoke(args=["evidence", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 orphaned file(s) removed" in result.output and orphan.storage_key in result.output
    assert stored_files() == kept
    result = runner.invoke(args=["evidence", "verify"])
    assert "1 file(s) checked, 0 problem(s)" in result.output
