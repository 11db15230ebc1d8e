"""The demo data (`flask demo setup`): closed milestones have their accepted 100 % report and
evidence; milestones accepted below 100 % stay open; the overdue figures agree."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from taskflow.assignments.demo import setup_demo
from taskflow.assignments.models import Evidence, Milestone, StatusUpdate
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.measures import milestones as measures

TODAY = date(2026, 12, 1)


@pytest.fixture
def demo(app, imported_plans):
    """The demo set up as `flask demo setup` does on 2026-12-01: (plan, the lines it printed)."""
    from taskflow.accounts.demo import create_demo_accounts

    plan = imported_plans
    lines = []
    with clock.frozen_at(datetime(2026, 12, 1, 9, 0, tzinfo=clock.LOCAL_TZ)), \
            app.test_request_context("/"):
        create_demo_accounts(plan)
        db.session.commit()
        setup_demo(plan, lines.append)
        db.session.commit()
    return plan, lines


@pytest.mark.slow
def test_demo_history_follows_the_closure_rule(demo):
    plan, lines = demo
    assert "closed on time" in lines[0]
    milestones = db.session.scalars(select(Milestone)).all()
    closed = [m for m in milestones if m.completed_on is not None]
    assert closed and all(m.state == "accepted" and m.accepted_progress == 100 for m in closed)
    accepted_full = dict(db.session.execute(
        select(StatusUpdate.milestone_id, func.count(Evidence.id))
        .join(Evidence, Evidence.status_update_id == StatusUpdate.id)
        .where(StatusUpdate.state == "accepted", StatusUpdate.progress == 100)
        .group_by(StatusUpdate.milestone_id)).all())
    assert all(accepted_full.get(m.id, 0) >= 1 for m in closed)
    partial = [m for m in milestones if 0 < m.accepted_progress < 100]
    assert partial and all(m.state == "in_progress" and m.completed_on is None for m in partial)
    waiting = [m for m in milestones if m.state == "submitted"]
    assert waiting
    overdue = {r.milestone_id for r in measures.overdue_list(plan.id, TODAY)}
    # Every open milestone already due is overdue, waiting reports and partial acceptances too.
    assert {m.id for m in partial + waiting} <= overdue
    assert all(m.completed_on is None for m in milestones if m.id in overdue)
    # Some second-quarter items were closed only in October: overdue at 09-30, not today.
    at_q3_end = {r.milestone_id for r in measures.overdue_list(plan.id, date(2026, 9, 30))}
    assert at_q3_end - overdue
    assert sum(t.closed for t in measures.task_progress(plan.id, TODAY)) == len(closed)


@pytest.mark.slow
def test_demo_returned_reports_have_their_inbox_items(demo):
    from taskflow.accounts.models import User
    from taskflow.assignments.models import Assignment
    from taskflow.notices.models import Notification

    _plan, lines = demo
    returned = db.session.execute(
        select(Milestone.id, Assignment.unit_id).join(Assignment)
        .where(Milestone.state == "returned")).all()
    assert returned, lines
    for milestone_id, unit_id in returned:
        people = set(db.session.scalars(select(User.id).where(
            User.unit_id == unit_id, User.active.is_(True),
            User.role.in_(("reporter", "unit_head")))))
        told = db.session.scalars(select(Notification).where(
            Notification.kind == "report_returned",
            Notification.link == f"/milestones/{milestone_id}")).all()
        assert sorted(n.user_id for n in told) == sorted(people) and people
        assert all(n.read_at is None and "佐证" in n.params["comment"] for n in told)
    # Acceptances long past are read; the badge shows what is recent or still to act on.
    accepted = db.session.scalars(select(Notification).where(
        Notification.kind == "report_accepted")).all()
    assert accepted and any(n.read_at is not None for n in accepted)
