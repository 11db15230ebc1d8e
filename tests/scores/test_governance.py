"""Score governance: confirmation pages, the second person, bulletins on published scores only,
superseded bulletins, and bulletins / periods read as of the period's end."""

import io
from datetime import date, datetime, timezone

import pytest
from docx import Document
from sqlalchemy import select

from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import Bulletin, ScoreConfirmation, ScoreItem
from taskflow.scores.rules import default_parameters

TODAY = date(2024, 4, 10)
NOW = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def scored(computed, make_user):
    """The computed scenario, two supervisors, a second office user and a leader."""
    for name, role in (("sup1", "supervisor"), ("sup2", "supervisor"), ("office2", "office"),
                       ("leader", "leader")):
        computed.users[name] = make_user(role, username=name)
    return computed


def second_person_rules():
    operations.ensure_default_rules(None)
    params = default_parameters()
    params["governance"]["second_person"] = True
    operations.create_rule_set(None, name="双人确认", effective_from=date(2024, 1, 1),
                               parameters=params, note="锁定和发布需两人确认")
    db.session.commit()


def actions(name):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == name)
                              .order_by(AuditEvent.id)).all()


def test_lock_and_publish_ask_for_confirmation_on_a_page_without_javascript(client, login, plan, scored):
    login(scored.users["sup1"])
    period = queries.latest_period(plan.id, "2024-03")
    url = "/scores/periods/2024-03/r1/lock"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="confirm" value="yes"' in page.text and "<script>" not in page.text
    assert "数据截至 2024-03-31" in page.text
    # The period page links to the confirmation page instead of locking at once.
    assert f'href="{url}"' in client.get("/scores/periods/2024-03").text
    # A POST without the confirmation changes nothing and shows the confirmation page.
    response = client.post(url, data={"version": period.version_id})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    db.session.rollback()
    assert period.state == "draft"
    assert client.post(url, data={"version": period.version_id, "confirm": "yes"}).status_code == 302
    db.session.rollback()
    assert period.state == "locked"
    # Default off: one person was enough; no request was left waiting.
    assert db.session.scalar(select(ScoreConfirmation)) is None


def test_second_person_must_be_a_different_supervisor_or_office_user(client, login, plan, scored):
    with clock.frozen_at(NOW):
        second_person_rules()
        operations.recompute(plan.id, "2024-03", None, today=TODAY)
        db.session.commit()
    period = queries.latest_period(plan.id, "2024-03")
    assert operations.second_person_required(period)
    lock_url = "/scores/periods/2024-03/r1/lock"
    # An office user cannot start it; a supervisor does.
    login(scored.users["office"])
    assert client.post(lock_url, data={"version": period.version_id, "confirm": "yes"}).status_code == 403
    client.post("/logout")
    login(scored.users["sup1"])
    client.post(lock_url, data={"version": period.version_id, "confirm": "yes"})
    db.session.rollback()
    assert period.state == "draft"  # waits for a second person
    assert len(actions("scores.confirmation_request")) == 1
    assert 'data-pending="lock"' in client.get("/scores/periods/2024-03").text
    # The same person again: refused, and the refusal is audited.
    client.post(lock_url, data={"version": period.version_id, "confirm": "yes"})
    db.session.rollback()
    assert period.state == "draft"
    assert len(actions("scores.confirmation_refused")) == 1
    client.post("/logout")
    # A leader may not give the second confirmation.
    login(scored.users["leader"])
    assert client.post(lock_url, data={"version": period.version_id, "confirm": "yes"}).status_code == 403
    client.post("/logout")
    # A different office user may.
    login(scored.users["office"])
    assert "第二次确认" in client.get(lock_url).text or "second confirmation" in client.get(lock_url).text
    client.post(lock_url, data={"version": period.version_id, "confirm": "yes"})
    db.session.rollback()
    assert period.state == "locked"
    event = actions("scores.lock")[-1]
    assert event.after["requested_by_id"] == scored.users["sup1"].id
    assert event.after["confirmed_by_id"] == scored.users["office"].id
    client.post("/logout")
    # Publishing: asked by sup2, confirmed by sup1.
    publish_url = "/scores/periods/2024-03/r1/publish"
    login(scored.users["sup2"])
    client.post(publish_url, data={"version": period.version_id, "confirm": "yes"})
    db.session.rollback()
    assert period.state == "locked"
    client.post("/logout")
    login(scored.users["sup1"])
    client.post(publish_url, data={"version": period.version_id, "confirm": "yes"})
    db.session.rollback()
    assert period.state == "published"


def test_a_request_made_before_the_scores_changed_does_not_count(plan, scored):
    with clock.frozen_at(NOW):
        second_person_rules()
        period = operations.recompute(plan.id, "2024-03", None, today=TODAY)
        db.session.commit()
        outcome = operations.confirm_action("lock", period, scored.users["sup1"],
                                            expected_version=period.version_id)
        assert outcome.waiting
        db.session.commit()
        operations.recompute(plan.id, "2024-03", None, today=TODAY)  # the scores changed
        db.session.commit()
        outcome = operations.confirm_action("lock", period, scored.users["sup2"])
        db.session.commit()
    # sup2's confirmation is a new request, not the second of sup1's stale one.
    assert outcome.waiting and not outcome.done and period.state == "draft"
    states = sorted(c.state for c in db.session.scalars(select(ScoreConfirmation)))
    assert states == ["cancelled", "pending"]


def test_a_bulletin_only_on_published_scores_and_superseded_by_a_correction(
        client, login, plan, scored):
    supervisor = scored.users["sup1"]
    quarter = queries.latest_period(plan.id, "2024Q1")
    with clock.frozen_at(NOW):
        with pytest.raises(operations.ScoreError):
            operations.create_bulletin(quarter, scored.users["office"])  # draft
        operations.lock(quarter, supervisor)
        with pytest.raises(operations.ScoreError):
            operations.create_bulletin(quarter, scored.users["office"])  # locked, not published
        operations.publish(quarter, supervisor)
        published = operations.create_bulletin(quarter, scored.users["office"])
        operations.publish_bulletin(published, scored.users["office"])
        draft = operations.create_bulletin(quarter, scored.users["office"])
        db.session.commit()
        # A correction: a new revision; both bulletins on revision 1 are superseded.
        revision = operations.correct(quarter, supervisor, reason="补录一项办结", today=TODAY)
        db.session.commit()
    assert revision.revision == 2
    assert published.superseded_by_id == revision.id and draft.superseded_by_id == revision.id
    assert len(actions("scores.bulletin_superseded")) == 2
    # The published scores of revision 1 did not change; r1 cannot be bulletined any more, nor
    # r2 until it is published; the superseded draft cannot be published.
    assert quarter.state == "published"
    with pytest.raises(operations.ScoreError):
        operations.create_bulletin(quarter, scored.users["office"])
    with pytest.raises(operations.ScoreError):
        operations.create_bulletin(revision, scored.users["office"])
    with pytest.raises(operations.ScoreError):
        operations.publish_bulletin(draft, scored.users["office"])
    db.session.rollback()
    login(scored.users["office"])
    refused = client.post(f"/scores/bulletins/{draft.id}/publish",
                          data={"version": draft.version_id, "confirm": "yes"})
    assert refused.status_code == 302
    db.session.rollback()
    assert draft.state == "draft"
    # Visible on the page, in the list and in the Word file.
    page = client.get(f"/scores/bulletins/{published.id}")
    assert 'id="superseded"' in page.text and "已被取代" in page.text
    listing = client.get("/scores/bulletins")
    assert listing.text.count("data-superseded") == 2
    document = Document(io.BytesIO(client.get(f"/scores/bulletins/{published.id}/bulletin.docx").data))
    assert any("已被取代" in p.text for p in document.paragraphs)


def test_bulletin_and_scores_are_as_of_the_quarter_end(client, login, plan, make_unit,
                                                       make_assignment, make_milestone, make_user,
                                                       working_days_after):
    unit = make_unit(name="丁镇")
    assignment = make_assignment(unit=unit, role="responsible")
    # Overdue at September 30, closed on October 15: it belongs in Q3's figures.
    item = make_milestone(assignment, due=date(2026, 9, 15), title="季末逾期后办结",
                          state="accepted", progress=100, completed_on=date(2026, 10, 15))
    make_milestone(assignment, due=date(2026, 10, 20), title="四季度才到期")
    office, supervisor = make_user("office"), make_user("supervisor")
    expected_days = working_days_after(date(2026, 9, 15), date(2026, 9, 30))
    with clock.frozen_at(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)):
        quarter = operations.recompute(plan.id, "2026Q3", None)
        assert quarter.as_of == date(2026, 9, 30)
        scored_item = db.session.scalar(select(ScoreItem).where(
            ScoreItem.period_id == quarter.id, ScoreItem.source_id == item.id))
        assert scored_item.reason == "milestone_overdue_minor"
        assert scored_item.detail["days_overdue"] == expected_days
        operations.lock(quarter, supervisor)
        operations.publish(quarter, supervisor)
        bulletin = operations.create_bulletin(quarter, office)
        db.session.commit()
        assert bulletin.data["as_of"] == "2026-09-30"
        assert [(r["title"], r["days"]) for r in bulletin.data["red_items"]] == [
            ("季末逾期后办结", expected_days)]
        assert "2026年9月30日" in bulletin.sections[2].body
        login(office)
        page = client.get(f"/scores/bulletins/{bulletin.id}")
        assert "数据截至 2026-09-30" in page.text and "季末逾期后办结" in page.text
        period_page = client.get("/scores/periods/2026Q3")
        assert "数据截至 2026-09-30" in period_page.text
        document = Document(io.BytesIO(client.get(f"/scores/bulletins/{bulletin.id}/bulletin.docx").data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "数据截至2026年9月30日" in text
    cells = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    assert any("季末逾期后办结" in row and str(expected_days) in row for row in cells)
