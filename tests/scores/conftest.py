"""A known scenario for the scores: units, milestones met / late / missing, register figures,
urge notices answered and not, reviews, a recognition (see test_scoring.py for the arithmetic)."""

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import insert

from taskflow.extensions import db

TODAY = date(2024, 4, 10)


def utc(y, m, d, h=2):
    """10:00 Asia/Shanghai on that day, as UTC."""
    return datetime(y, m, d, h, 0, tzinfo=timezone.utc)


@dataclass
class Scenario:
    units: dict = field(default_factory=dict)
    milestones: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)


@pytest.fixture
def build_scenario(app, plan, make_unit, make_task, make_assignment, make_milestone, make_user):
    """build_scenario(extra=0): the hand-worked scenario, plus `extra` idle units per group."""
    from taskflow.enterprises.models import Enterprise
    from taskflow.notices.models import UrgeNotice
    from taskflow.plans.models import Indicator, Target
    from taskflow.assignments.models import StatusUpdate
    from taskflow.scores.models import Recognition

    def build(extra: int = 0) -> Scenario:
        s = Scenario()
        for name in ("A", "B", "C"):
            s.units[name] = make_unit(name=f"{name}镇", kind="town", peer_group="street_town")
        for name in ("D", "E"):
            s.units[name] = make_unit(name=f"区{name}局", kind="department", peer_group="department")
        for i in range(extra):
            make_unit(name=f"空闲镇{i}", kind="town", peer_group="street_town")
            make_unit(name=f"空闲局{i}", kind="department", peer_group="department")
        office = make_user("office", username="office-s")
        s.users["office"] = office
        s.tasks[1] = t1 = make_task(title="培育科技型企业")
        s.tasks[2] = t2 = make_task(title="招引高新技术企业")
        a_d = make_assignment(task=t1, unit=s.units["D"], role="lead")
        a_a = make_assignment(task=t1, unit=s.units["A"], role="responsible")
        a_b = make_assignment(task=t1, unit=s.units["B"], role="responsible")
        a_e = make_assignment(task=t2, unit=s.units["E"], role="lead")
        a_c = make_assignment(task=t2, unit=s.units["C"], role="responsible")
        m = s.milestones
        m[1] = make_milestone(a_d, due=date(2024, 3, 10), title="m1", state="accepted",
                              completed_on=date(2024, 3, 10), days_late=0)
        m[2] = make_milestone(a_d, due=date(2024, 3, 20), title="m2", weight=2)
        m[3] = make_milestone(a_a, due=date(2024, 3, 15), title="m3", state="accepted",
                              completed_on=date(2024, 3, 18), days_late=3)
        m[4] = make_milestone(a_a, due=date(2024, 3, 25), title="m4", state="accepted",
                              completed_on=date(2024, 4, 5), days_late=11)
        m[5] = make_milestone(a_b, due=date(2024, 3, 31), title="m5")
        m[6] = make_milestone(a_c, due=date(2024, 3, 5), title="m6", state="accepted",
                              completed_on=date(2024, 3, 5), days_late=0)
        m[7] = make_milestone(a_e, due=date(2024, 3, 12), title="m7", state="accepted",
                              completed_on=date(2024, 3, 17), days_late=5)
        # Outside the period: due in April, and one due in February.
        m[8] = make_milestone(a_a, due=date(2024, 4, 15), title="m8")
        m[9] = make_milestone(a_b, due=date(2024, 2, 20), title="m9")

        reporters = {n: make_user("reporter", unit=s.units[n], username=f"rep-{n}") for n in "ABCDE"}
        s.users.update({f"rep-{n}": u for n, u in reporters.items()})

        def update(milestone, unit, state, reviewed, reason=None):
            return StatusUpdate(milestone_id=milestone.id, author_id=reporters[unit].id,
                                progress=100, created_at=reviewed, state=state,
                                reviewer_id=office.id, reviewed_at=reviewed, reason_code=reason)

        db.session.add_all([
            update(m[6], "C", "accepted", utc(2024, 3, 6)),                       # first pass
            update(m[3], "A", "returned", utc(2024, 3, 16), "incomplete"),        # a return
            update(m[3], "A", "accepted", utc(2024, 3, 18)),                      # not first
            update(m[7], "E", "returned", utc(2024, 3, 14), "false_reporting"),   # false reporting
            update(m[7], "E", "accepted", utc(2024, 3, 17)),
        ])

        tech = Indicator(code="tech_based", name="科技型企业", measure="count", sort_order=1)
        high = Indicator(code="high_tech", name="高新技术企业", measure="count", sort_order=2)
        db.session.add_all([tech, high])
        db.session.flush()
        for name in "ABC":
            for year, value in ((2023, 10), (2024, 50)):
                db.session.add(Target(plan_id=plan.id, unit_id=s.units[name].id, indicator_id=tech.id,
                                      year=year, kind="in_library", value=value))
        for year, value in ((2023, 2), (2024, 4)):
            db.session.add(Target(plan_id=plan.id, unit_id=s.units["A"].id, indicator_id=high.id,
                                  year=year, kind="in_library", value=value))
        rows = []
        counter = 0
        # At the end of 2023 each unit holds its 2023 target (the base of 2024's expected-to-date
        # progress): A 10 tech / 2 high-tech, B 9 + the one removed in 2024, C 10.
        for name, tech_count, high_count, in_2023 in (("A", 20, 4, 10), ("B", 14, 0, 9),
                                                      ("C", 10, 0, 10)):
            for i in range(tech_count):
                counter += 1
                row = {"name": f"{name}企业{i}", "credit_code": f"91500222T{counter:09d}",
                       "unit_id": s.units[name].id, "source": "stock",
                       "tech_in_library_on": date(2023, 5, 1) if i < in_2023 else date(2024, 1, 15),
                       "status": "active",
                       "specialised_sme": False, "version_id": 1, "created_at": utc(2024, 1, 1),
                       "updated_at": utc(2024, 1, 1)}
                if i < high_count:
                    on = date(2023, 6, 1) if i < 2 else date(2024, 1, 15)
                    row.update(high_tech_cert_on=on, high_tech_first_on=on,
                               high_tech_expires_on=on.replace(year=on.year + 3))
                rows.append(row)
        # Removed from the library before March's end: not counted.
        counter += 1
        rows.append({"name": "B已移出企业", "credit_code": f"91500222T{counter:09d}",
                     "unit_id": s.units["B"].id, "source": "stock", "tech_in_library_on": date(2023, 5, 1),
                     "tech_removed_on": date(2024, 2, 1), "status": "active", "specialised_sme": False,
                     "version_id": 1, "created_at": utc(2024, 1, 1), "updated_at": utc(2024, 1, 1)})
        db.session.execute(insert(Enterprise), rows)

        def notice(seq, unit, level, issued, due, responded=None, late=None):
            return UrgeNotice(series="urge" if level != "red" else "supervise", year=2024, sequence=seq,
                              number=f"綦双倍增督〔2024〕{seq}号", level=level, unit_id=s.units[unit].id,
                              response_due=due, source="office", issued_at=issued,
                              responded_at=responded, answered_late=late,
                              response="已整改" if responded else "")

        db.session.add_all([
            notice(1, "B", "yellow", utc(2024, 3, 21), date(2024, 3, 26), utc(2024, 3, 25), False),
            notice(2, "B", "red", utc(2024, 3, 27), date(2024, 4, 2)),
            notice(3, "C", "yellow", utc(2024, 3, 10), date(2024, 3, 13), utc(2024, 3, 15), True),
            notice(4, "A", "blue", utc(2024, 2, 10), date(2024, 2, 13)),  # February: not in March
        ])
        db.session.add(Recognition(unit_id=s.units["D"].id, awarded_on=date(2024, 3, 20),
                                   title="市级表扬", points=3, evidence="渝科发〔2024〕1号"))
        db.session.commit()
        return s

    return build


V2_PARAMETERS_CHANGES = {
    "execution.grace_days": 0,
    "execution.lead.overdue_minor": -4,
    "execution.responsible.overdue_minor": -3,
    "quality.first_pass": 2,
    "quality.false_reporting": -5,
}


# When `computed` computes the March and Q1 scores: TODAY, 10:00 in Shanghai.
SCORED_AT = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def computed(build_scenario, plan, freeze):
    """The scenario with March and Q1 computed (draft) on TODAY; the clock stays there."""
    from taskflow.scores import operations

    freeze(SCORED_AT)
    s = build_scenario()
    operations.recompute(plan.id, "2024-03", None, today=TODAY)
    operations.recompute(plan.id, "2024Q1", None, today=TODAY)
    db.session.commit()
    return s


@pytest.fixture
def v2_parameters():
    """The defaults with the heavier v2 rules and a stricter green band."""
    from taskflow.scores.rules import default_parameters

    params = default_parameters()
    for path, value in V2_PARAMETERS_CHANGES.items():
        node = params
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    params["grades"][0]["min"] = 98
    return params


@pytest.fixture
def working_days_after():
    """An independent count of Chinese working days d with start < d <= end (chinesecalendar),
    to check the scores' working-day figures against."""
    from datetime import timedelta

    import chinese_calendar

    def count(start: date, end: date) -> int:
        day, total = start + timedelta(days=1), 0
        while day <= end:
            total += chinese_calendar.is_workday(day)
            day += timedelta(days=1)
        return total

    return count
