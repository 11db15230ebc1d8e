"""Operations of the assignments area: every state change, its audit event and every refusal."""

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from taskflow.assignments import operations as ops
from taskflow.assignments.models import (
    Assignment,
    Evidence,
    ExtensionRequest,
    Milestone,
    StatusUpdate,
)
from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.core.uploads import validate_upload
from taskflow.extensions import db

pytestmark = pytest.mark.usefixtures("request_ctx")


def audit_actions():
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def last_event(action):
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    ).first()


def validated_pdf(pdf_bytes, name="季度报告.pdf"):
    return validate_upload(FileStorage(BytesIO(pdf_bytes), filename=name))


# ---------------------------------------------------------------- planning


def test_add_assignment_and_refuse_duplicate(world, make_unit):
    office = world.users.office
    unit = make_unit(name="区财政局", kind="department", peer_group="department")
    assignment = ops.add_assignment(world.task, unit, "responsible", office)
    db.session.commit()
    assert assignment.added_by_office
    event = last_event("assignment.add")
    assert event.after["unit"] == "区财政局"
    with pytest.raises(ops.ReportingError, match="区财政局"):
        ops.add_assignment(world.task, unit, "lead", office)


def test_add_assignment_refuses_unit_of_another_plan(world, make_plan):
    from taskflow.units.models import Unit

    other_plan = make_plan(code="city", level="city")
    stranger = Unit(plan_id=other_plan.id, name="外区单位", kind="district", peer_group="new_urban")
    db.session.add(stranger)
    db.session.commit()
    with pytest.raises(ops.ReportingError):
        ops.add_assignment(world.task, stranger, "responsible", world.users.office)


def test_remove_assignment_without_reports_deletes_it_and_its_milestones(world):
    assignment_id, milestone_id = world.b.id, world.ms_b.id
    ops.remove_assignment(world.b, world.users.office)
    db.session.commit()
    assert db.session.get(Assignment, assignment_id) is None
    assert db.session.get(Milestone, milestone_id) is None
    assert last_event("assignment.remove").before["unit"] == "文龙街道"


def test_remove_assignment_with_reports_is_refused_and_history_kept(world):
    ops.submit_update(world.ms_a, world.users.reporter_a, progress=10, narrative="进展",
                      problems="", next_steps="")
    db.session.commit()
    with pytest.raises(ops.ReportingError, match="古南街道"):
        ops.remove_assignment(world.a, world.users.office)
    db.session.rollback()
    assert db.session.get(Assignment, world.a.id) is not None
    assert db.session.scalar(select(func.count(StatusUpdate.id))) == 1


def test_generate_quarterly_milestones_is_idempotent(world):
    created, skipped = ops.generate_milestones(
        world.task, start_year=2023, end_year=2027, frequency="quarterly",
        required_evidence="季度工作总结", weight=Decimal("1"), actor=world.users.office)
    db.session.commit()
    # 3 assignments × 20 quarters, minus the existing 2024 Q1 milestone of each (same title).
    assert (created, skipped) == (57, 3)
    titles = list(db.session.scalars(
        select(Milestone.title).where(Milestone.assignment_id == world.a.id)
        .order_by(Milestone.due_date)))
    assert titles[0] == "2023年第1季度进展" and titles[-1] == "2027年第4季度进展"
    assert len(titles) == 20
    q2 = db.session.scalar(select(Milestone).where(Milestone.assignment_id == world.a.id,
                                                   Milestone.title == "2024年第2季度进展"))
    assert q2.due_date == q2.original_due_date == date(2024, 6, 30)
    assert q2.required_evidence == "季度工作总结"
    again = ops.generate_milestones(
        world.task, start_year=2023, end_year=2027, frequency="quarterly",
        required_evidence="季度工作总结", weight=Decimal("1"), actor=world.users.office)
    assert again == (0, 60)
    assert last_event("milestone.generate").after["created"] == 0


def test_generate_skips_a_period_whose_title_was_edited(world):
    ops.generate_milestones(world.task, start_year=2025, end_year=2025, frequency="yearly",
                            required_evidence="", weight=Decimal("1"), actor=world.users.office)
    milestone = db.session.scalar(select(Milestone).where(
        Milestone.assignment_id == world.a.id, Milestone.title == "2025年度进展"))
    ops.edit_milestone(milestone, expected_version=milestone.version_id, title="2025年度总结",
                       due_date=milestone.due_date, weight=Decimal("2"), required_evidence="",
                       actor=world.users.office)
    assert ops.generate_milestones(world.task, start_year=2025, end_year=2025, frequency="yearly",
                                   required_evidence="", weight=Decimal("1"),
                                   actor=world.users.office) == (0, 3)


def test_generate_refuses_bad_ranges_and_tasks_without_units(world, make_task):
    with pytest.raises(ops.ReportingError):
        ops.generate_milestones(world.task, start_year=2027, end_year=2023, frequency="quarterly",
                                required_evidence="", weight=Decimal(1), actor=world.users.office)
    with pytest.raises(ops.ReportingError):
        ops.generate_milestones(make_task(), start_year=2023, end_year=2023,
                                frequency="quarterly", required_evidence="", weight=Decimal(1),
                                actor=world.users.office)


def test_edit_milestone_with_stale_version_is_refused(world):
    milestone = world.ms_a
    loaded_version = milestone.version_id
    ops.edit_milestone(milestone, expected_version=loaded_version, title="第一季度",
                       due_date=date(2024, 4, 15), weight=Decimal("2"), required_evidence="照片",
                       actor=world.users.office2)
    db.session.commit()
    assert milestone.original_due_date == date(2024, 4, 15)  # no extension: the plan moved
    with pytest.raises(ops.StaleEdit) as info:
        ops.edit_milestone(milestone, expected_version=loaded_version, title="别的标题",
                           due_date=date(2024, 4, 30), weight=Decimal("1"), required_evidence="",
                           actor=world.users.office)
    assert "办公室李四" in info.value.message
    assert milestone.title == "第一季度"
    event = last_event("milestone.edit")
    assert event.before["title"] == "2024年第1季度进展" and event.after["title"] == "第一季度"


# ---------------------------------------------------------------- reporting and review


def test_submit_stores_evidence_and_moves_the_milestone(world, pdf_bytes, stored_files):
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=60,
                               narrative="完成企业走访", problems="人手不足", next_steps="继续",
                               files=[validated_pdf(pdf_bytes)])
    db.session.commit()
    assert world.ms_a.state == "submitted" and world.ms_a.progress == 60
    assert update.state == "submitted" and update.awaiting_office
    evidence = update.evidence[0]
    assert evidence.original_name == "季度报告.pdf" and evidence.detected_type == "pdf"
    assert evidence.size == len(pdf_bytes)
    import hashlib

    assert evidence.sha256 == hashlib.sha256(pdf_bytes).hexdigest()
    assert len(stored_files()) == 1 and stored_files()[0].read_bytes() == pdf_bytes
    event = last_event("status_update.submit")
    assert event.before["milestone"]["state"] == "pending"
    assert event.after["milestone"]["state"] == "submitted"
    assert event.after["evidence"] == ["季度报告.pdf"]


def test_failed_commit_leaves_no_file_behind(world, pdf_bytes, stored_files):
    ops.submit_update(world.ms_a, world.users.reporter_a, progress=60, narrative="进展",
                      problems="", next_steps="", files=[validated_pdf(pdf_bytes)])
    assert len(stored_files()) == 1  # written and fsynced before the commit
    db.session.rollback()
    assert stored_files() == []
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_submit_refusals(world):
    reporter = world.users.reporter_a
    with pytest.raises(ops.ReportingError):
        ops.submit_update(world.ms_a, reporter, progress=101, narrative="x", problems="",
                          next_steps="")
    with pytest.raises(ops.ReportingError):
        ops.submit_update(world.ms_a, reporter, progress=10, narrative="  ", problems="",
                          next_steps="")
    ops.submit_update(world.ms_a, reporter, progress=10, narrative="x", problems="",
                      next_steps="")
    with pytest.raises(ops.ReportingError, match="等待审核|waiting"):
        ops.submit_update(world.ms_a, reporter, progress=20, narrative="y", problems="",
                          next_steps="")


def test_return_then_resubmit_then_accept_keeps_history(world):
    reporter, office = world.users.reporter_a, world.users.office
    first = ops.submit_update(world.ms_a, reporter, progress=50, narrative="一稿", problems="",
                              next_steps="")
    with pytest.raises(ops.ReportingError):  # a return needs a reason
        ops.review_update(first, office, accept=False, reason_code=None, comment="补充")
    with pytest.raises(ops.ReportingError):  # and a comment
        ops.review_update(first, office, accept=False, reason_code="no_evidence", comment=" ")
    ops.review_update(first, office, accept=False, reason_code="no_evidence",
                      comment="请上传佐证材料")
    db.session.commit()
    assert first.state == "returned" and world.ms_a.state == "returned"
    assert first.reviewer_id == office.id and first.reason_code == "no_evidence"
    with pytest.raises(ops.ReportingError):  # already handled
        ops.review_update(first, office, accept=True)
    second = ops.submit_update(world.ms_a, reporter, progress=100, narrative="二稿",
                               problems="", next_steps="")
    ops.review_update(second, office, accept=True)
    db.session.commit()
    assert world.ms_a.state == "accepted"
    assert world.ms_a.completed_on == date(2024, 3, 20) and world.ms_a.days_late == 0
    assert [u.state for u in db.session.scalars(
        select(StatusUpdate).order_by(StatusUpdate.id))] == ["returned", "accepted"]
    with pytest.raises(ops.ReportingError):
        ops.submit_update(world.ms_a, reporter, progress=100, narrative="三稿", problems="",
                          next_steps="")
    actions = audit_actions()
    assert actions.count("status_update.submit") == 2
    assert "status_update.return" in actions and "status_update.accept" in actions
    accept = last_event("status_update.accept")
    assert accept.before["milestone"]["state"] == "submitted"
    assert accept.after["milestone"]["state"] == "accepted"


def test_sign_off_flow(world):
    world.a.requires_sign_off = True
    db.session.commit()
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=40, narrative="x",
                               problems="", next_steps="")
    assert update.awaiting_sign_off and not update.awaiting_office
    with pytest.raises(ops.ReportingError):  # the office does not see it yet
        ops.review_update(update, world.users.office, accept=True)
    ops.sign_off_update(update, world.users.head_a, approve=True)
    assert update.state == "signed_off" and world.ms_a.state == "signed_off"
    assert update.awaiting_office and update.signed_off_by_id == world.users.head_a.id
    with pytest.raises(ops.ReportingError):
        ops.sign_off_update(update, world.users.head_a, approve=True)
    ops.review_update(update, world.users.office, accept=True)
    # Accepted at 40 %: the progress is on record and the milestone stays open for the rest.
    assert world.ms_a.state == "in_progress" and world.ms_a.accepted_progress == 40
    assert world.ms_a.completed_on is None
    assert "status_update.sign_off" in audit_actions()


def test_unit_head_can_return_to_reporter_with_reason(world):
    world.a.requires_sign_off = True
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=40, narrative="x",
                               problems="", next_steps="")
    with pytest.raises(ops.ReportingError):
        ops.sign_off_update(update, world.users.head_a, approve=False, reason_code="incomplete",
                            comment="")
    ops.sign_off_update(update, world.users.head_a, approve=False, reason_code="incomplete",
                        comment="数据不全")
    assert update.state == "returned" and world.ms_a.state == "returned"
    assert update.reviewer_id == world.users.head_a.id


def test_unit_heads_own_submission_counts_as_signed_off(world):
    world.a.requires_sign_off = True
    update = ops.submit_update(world.ms_a, world.users.head_a, progress=40, narrative="x",
                               problems="", next_steps="")
    assert update.state == "signed_off" and update.awaiting_office


def test_late_acceptance_records_days_late_against_original_due_date(world):
    with clock.frozen_at(datetime(2024, 4, 10, 9, 0, tzinfo=clock.LOCAL_TZ)):
        update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=100,
                                   narrative="x", problems="", next_steps="")
    with clock.frozen_at(datetime(2024, 4, 20, 9, 0, tzinfo=clock.LOCAL_TZ)):
        ops.review_update(update, world.users.office, accept=True)
    # Closed on the day of acceptance; lateness is counted in working days to the unit's
    # submission, not to the office's review: 4-1..4-3 and 4-7 (清明 make-up day)..4-10.
    assert world.ms_a.completed_on == date(2024, 4, 20) and world.ms_a.days_late == 7


# ---------------------------------------------------------------- extensions


def test_extension_granted_moves_due_date_but_lateness_counts_from_original(world):
    request = ops.request_extension(world.ms_a, world.users.reporter_a,
                                    requested_due_date=date(2024, 4, 30), reason="疫情影响")
    with pytest.raises(ops.ReportingError):  # one pending request at a time
        ops.request_extension(world.ms_a, world.users.reporter_a,
                              requested_due_date=date(2024, 5, 30), reason="再延")
    ops.decide_extension(request, world.users.office, grant=True, comment="同意")
    db.session.commit()
    assert world.ms_a.due_date == date(2024, 4, 30)
    assert world.ms_a.original_due_date == date(2024, 3, 31)
    event = last_event("extension.grant")
    assert event.before["milestone"]["due_date"] == "2024-03-31"
    assert event.after["milestone"]["due_date"] == "2024-04-30"
    with pytest.raises(ops.ReportingError):
        ops.decide_extension(request, world.users.office, grant=False, comment="x")
    with clock.frozen_at(datetime(2024, 4, 25, 9, 0, tzinfo=clock.LOCAL_TZ)):
        update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=100,
                                   narrative="x", problems="", next_steps="")
        ops.review_update(update, world.users.office, accept=True)
    # Within the extension, still late against the plan: 18 working days after 2024-03-31.
    assert world.ms_a.days_late == 18


def test_extension_refused_after_due_date_and_for_earlier_dates(world):
    with pytest.raises(ops.ReportingError, match="2024-03-31"):
        ops.request_extension(world.ms_a, world.users.reporter_a,
                              requested_due_date=date(2024, 4, 30), reason="晚了",
                              today=date(2024, 4, 1))
    with pytest.raises(ops.ReportingError):
        ops.request_extension(world.ms_a, world.users.reporter_a,
                              requested_due_date=date(2024, 3, 31), reason="同一天")
    with pytest.raises(ops.ReportingError):
        ops.request_extension(world.ms_a, world.users.reporter_a,
                              requested_due_date=date(2024, 4, 30), reason=" ")
    assert db.session.scalar(select(func.count(ExtensionRequest.id))) == 0


def test_extension_refusal_needs_comment(world):
    request = ops.request_extension(world.ms_a, world.users.reporter_a,
                                    requested_due_date=date(2024, 4, 30), reason="原因")
    with pytest.raises(ops.ReportingError):
        ops.decide_extension(request, world.users.office, grant=False, comment="")
    ops.decide_extension(request, world.users.office, grant=False, comment="理由不足")
    assert request.state == "refused" and world.ms_a.due_date == date(2024, 3, 31)
    assert "extension.refuse" in audit_actions()


# ---------------------------------------------------------------- consolidated reports


def test_consolidated_report_cites_only_responsible_units_of_the_task(world):
    a_update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=50, narrative="A",
                                 problems="", next_steps="")
    other = ops.submit_update(world.ms_b_other, world.users.reporter_b, progress=50,
                              narrative="other task", problems="", next_steps="")
    report = ops.write_consolidated_report(world.lead, world.users.reporter_lead,
                                           title="一季度汇总", body="各责任单位进展良好",
                                           cited_update_ids=[a_update.id])
    assert [u.id for u in report.citations] == [a_update.id]
    with pytest.raises(ops.ReportingError):
        ops.write_consolidated_report(world.lead, world.users.reporter_lead, title="t", body="b",
                                      cited_update_ids=[other.id])
    with pytest.raises(ops.ReportingError):
        ops.write_consolidated_report(world.a, world.users.reporter_a, title="t", body="b",
                                      cited_update_ids=[])
    assert last_event("consolidated_report.create").after["cited_updates"] == [a_update.id]
