"""The benchmark generator at tiny scale: consistent data, deterministic, and the pages answer."""

import hashlib
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.generate import (
    BENCH_PASSWORD,
    DATA_AS_OF,
    FULL,
    generate,
)
from taskflow.core.calendar import WorkCalendar
from taskflow.extensions import db
from taskflow.measures.milestones import lateness_working_days

SCALE = 0.001


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_tiny_city_has_the_asked_sizes_and_a_cloned_district(app):
    from taskflow.accounts.models import User
    from taskflow.assignments.models import Milestone, StatusUpdate
    from taskflow.enterprises.models import Enterprise
    from taskflow.notices.models import Notification
    from taskflow.plans.models import KeyTask, Plan
    from taskflow.units.models import Unit

    summary = generate(SCALE, progress=False)

    assert _count(Milestone) == round(FULL["milestones"] * SCALE)
    assert _count(StatusUpdate) == round(FULL["status_updates"] * SCALE)
    assert _count(Enterprise) == round(FULL["enterprises"] * SCALE)
    # The generated reminders; opening the two dispatch months through the real operation also
    # tells the units' people (dispatch_opened), on top of the asked size.
    assert _count(Notification, Notification.kind.in_(("overdue", "due_3"))) == \
        round(FULL["notifications"] * SCALE)
    assert _count(Notification, Notification.kind == "dispatch_opened") > 0
    assert summary.counts["status_updates"] == _count(StatusUpdate)

    plans = db.session.scalars(select(Plan).order_by(Plan.id)).all()
    city, qijiang, clone = plans
    assert (city.level, qijiang.code, clone.level) == ("city", "qijiang-2023-2027", "district")
    assert clone.parent_id == city.id and clone.parent_unit_id != qijiang.parent_unit_id
    district = db.session.get(Unit, clone.parent_unit_id)
    assert district.plan_id == city.id and district.kind in ("district", "zone")
    # The clone has Qijiang's structure, its units named "<district>·<unit>".
    qj_units = db.session.scalars(select(Unit.name).where(Unit.plan_id == qijiang.id)).all()
    clone_units = db.session.scalars(select(Unit.name).where(Unit.plan_id == clone.id)).all()
    assert sorted(f"{district.name}·{name}" for name in qj_units) == sorted(clone_units)
    assert f"{district.name}·古南街道" in clone_units
    assert (db.session.scalar(select(func.count(KeyTask.id)).where(KeyTask.plan_id == clone.id))
            == db.session.scalar(select(func.count(KeyTask.id)).where(KeyTask.plan_id == qijiang.id)))
    # Every unit of a district plan has a reporter and a unit head.
    unit_ids = set(db.session.scalars(select(Unit.id).where(Unit.plan_id.in_([qijiang.id, clone.id]))))
    for role in ("reporter", "unit_head"):
        assert set(db.session.scalars(select(User.unit_id).where(User.role == role))) == unit_ids


def test_milestones_agree_with_their_update_history(app):
    from taskflow.assignments.models import Assignment, ExtensionRequest, Milestone, StatusUpdate
    from taskflow.core import clock
    from taskflow.enterprises.creditcode import is_valid
    from taskflow.enterprises.models import Enterprise, add_years

    generate(SCALE, progress=False)

    updates = defaultdict(list)
    for update in db.session.scalars(select(StatusUpdate).order_by(StatusUpdate.created_at)):
        updates[update.milestone_id].append(update)
    units = dict(db.session.execute(select(Assignment.id, Assignment.unit_id)).tuples().all())
    states = set()
    for milestone in db.session.scalars(select(Milestone)):
        history = updates.get(milestone.id, [])
        states.add(milestone.state)
        if milestone.state == "pending":
            assert history == []
            continue
        last = history[-1]
        assert last.state == milestone.state
        assert last.progress == milestone.progress
        # Earlier reports were all returned, each reviewed before the next one came.
        for earlier, later in zip(history, history[1:]):
            assert earlier.state == "returned" and earlier.reason_code and earlier.comment
            assert earlier.created_at < earlier.reviewed_at < later.created_at
        for update in history:
            assert update.author.unit_id == units[milestone.assignment_id]
            assert update.created_at.date() <= DATA_AS_OF
        if milestone.state == "accepted":
            completed = clock.to_local(last.created_at).date()
            assert milestone.completed_on == completed
            # Closed only at 100 %, lateness in working days (taskflow.measures.milestones).
            assert last.progress == 100 and milestone.accepted_progress == 100
            assert milestone.days_late == lateness_working_days(
                milestone.original_due_date, completed, WorkCalendar())
        else:
            assert milestone.completed_on is None
    assert {"pending", "submitted", "returned", "accepted"} <= states
    # An extension moved the due date; the original stays, and the request is on record.
    for request in db.session.scalars(select(ExtensionRequest)):
        assert request.state == "granted"
        assert request.milestone.original_due_date == request.current_due_date
        assert request.milestone.due_date == request.requested_due_date
    codes = db.session.scalars(select(Enterprise.credit_code)).all()
    assert len(set(codes)) == len(codes) and all(is_valid(code) for code in codes)
    for enterprise in db.session.scalars(select(Enterprise)):
        events = [d for d in (enterprise.tech_in_library_on, enterprise.tech_removed_on,
                              enterprise.high_tech_cert_on) if d is not None]
        assert all(d < DATA_AS_OF for d in events)
        if enterprise.tech_removed_on:
            assert enterprise.tech_in_library_on < enterprise.tech_removed_on
        if enterprise.high_tech_cert_on:
            assert enterprise.high_tech_expires_on == add_years(enterprise.high_tech_cert_on, 3)
            assert enterprise.high_tech_first_on <= enterprise.high_tech_cert_on
        assert (enterprise.status == "closed") == (enterprise.closed_on is not None)
        if enterprise.closed_on:
            assert all(d < enterprise.closed_on for d in events)


def _fingerprint() -> str:
    from taskflow.assignments.models import Milestone, StatusUpdate
    from taskflow.enterprises.models import Enterprise
    from taskflow.units.models import Unit

    digest = hashlib.sha256()
    for stmt in (
        select(Unit.id, Unit.name, Unit.parent_id).order_by(Unit.id),
        select(Milestone.id, Milestone.assignment_id, Milestone.due_date, Milestone.state,
               Milestone.progress).order_by(Milestone.id),
        select(StatusUpdate.id, StatusUpdate.milestone_id, StatusUpdate.created_at,
               StatusUpdate.state, StatusUpdate.narrative).order_by(StatusUpdate.id),
        select(Enterprise.credit_code, Enterprise.unit_id, Enterprise.high_tech_expires_on)
        .order_by(Enterprise.id),
    ):
        for row in db.session.execute(stmt):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_same_seed_gives_the_same_city(app):
    generate(SCALE, seed=3, progress=False, workflows=False)
    first = _fingerprint()
    db.session.remove()
    if db.engine.dialect.name == "sqlite":  # plans ↔ units refer to each other: a new file
        path = Path(db.engine.url.database)
        db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        db.drop_all()
    db.create_all()
    generate(SCALE, seed=3, progress=False, workflows=False)
    assert _fingerprint() == first


def test_the_pages_answer_on_the_generated_city(app, client):
    from taskflow.accounts.models import User
    from taskflow.assignments.models import Assignment
    from taskflow.enterprises.models import DispatchPeriod
    from taskflow.scores.models import ScoreCard
    from taskflow.units.models import Unit

    generate(SCALE, progress=False)
    assert _count(ScoreCard) > 0  # one month scored, so the cockpit has rankings
    assignment = db.session.scalar(select(Assignment).join(Assignment.milestones)
                                   .order_by(Assignment.id).limit(1))
    reporter = db.session.scalar(select(User).where(User.role == "reporter",
                                                    User.unit_id == assignment.unit_id))
    period = db.session.scalar(select(DispatchPeriod).order_by(DispatchPeriod.month))
    pages = {
        "bench-office": ["/review", "/enterprises/", f"/dispatch/{period.id}", "/cockpit"],
        "bench-leader": ["/cockpit"],
        reporter.username: ["/my", f"/assignments/{assignment.id}", "/notices/inbox"],
    }
    for username, paths in pages.items():
        response = client.post("/login", data={"username": username, "password": BENCH_PASSWORD})
        assert response.status_code == 302, username
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (username, path)
        client.post("/logout")
    # A reporter cannot open another district's assignment: the generated accounts are real.
    other = db.session.scalar(select(Assignment).join(Assignment.unit)
                              .where(Unit.plan_id != reporter.unit.plan_id)
                              .order_by(Assignment.id).limit(1))
    client.post("/login", data={"username": reporter.username, "password": BENCH_PASSWORD})
    assert client.get(f"/assignments/{other.id}").status_code in (403, 404)
