"""The nightly recompute of open score periods is scheduled, refreshes drafts and leaves locked
and published periods alone."""

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from taskflow import scheduler
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.scores import jobs, operations, queries
from taskflow.scores.models import ScoreItem


def test_the_scheduler_registers_the_nightly_recompute(app):
    sched = scheduler.build_scheduler(app)
    found = {job.id: job for job in sched.get_jobs()}
    assert "scores_recompute" in found
    job = found["scores_recompute"]
    assert job.args[2] is jobs.nightly_recompute
    assert job.coalesce is True and job.max_instances == 1
    after = datetime(2024, 4, 10, 12, 0, tzinfo=clock.LOCAL_TZ)
    fire = job.trigger.get_next_fire_time(None, after)
    assert (fire.date(), fire.hour, fire.minute) == (date(2024, 4, 11), 1, 30)
    app.config["SCORES_RECOMPUTE_AT"] = "02:15"
    fire = {j.id: j for j in scheduler.build_scheduler(app).get_jobs()}[
        "scores_recompute"].trigger.get_next_fire_time(None, after)
    assert (fire.hour, fire.minute) == (2, 15)
    app.config["SCORES_RECOMPUTE_AT"] = "25:00"
    with pytest.raises(ValueError):
        scheduler.build_scheduler(app)


def test_the_nightly_job_recomputes_drafts_and_leaves_locked_and_published_alone(
        app, plan, make_unit, make_assignment, make_milestone):
    unit = make_unit(name="戊镇")
    assignment = make_assignment(unit=unit, role="responsible")
    make_milestone(assignment, due=date(2024, 2, 20), title="二月到期")
    with clock.frozen_at(datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)):
        march = operations.recompute(plan.id, "2024-03", None)
        operations.lock(march, None)
        operations.publish(march, None)
        quarter = operations.recompute(plan.id, "2024Q2", None)
        operations.lock(quarter, None)
        april = operations.recompute(plan.id, "2024-04", None)
        db.session.commit()
    # New facts after the last computation: another overdue item.
    make_milestone(assignment, due=date(2024, 3, 25), title="三月到期")

    def items(period):
        return db.session.scalar(select(db.func.count()).select_from(ScoreItem)
                                 .where(ScoreItem.period_id == period.id))

    before = {p.key: items(p) for p in (march, quarter, april)}
    with clock.frozen_at(datetime(2024, 4, 10, 17, 30, tzinfo=timezone.utc)):  # 01:30 on the 11th
        scheduler.run_job(app, "scores_recompute", jobs.nightly_recompute)
    db.session.expire_all()
    assert items(queries.latest_period(plan.id, "2024-04")) == before["2024-04"] + 1  # draft: fresh
    assert items(march) == before["2024-03"] and march.state == "published"
    assert items(quarter) == before["2024Q2"] and quarter.state == "locked"
    # The year, not computed before, is computed too.
    assert queries.latest_period(plan.id, "2024").computed_at is not None
