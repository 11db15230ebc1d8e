"""Traffic lights of milestones and assignments."""

from datetime import date

from taskflow.assignments.lights import (
    LightFacts,
    assignment_light,
    milestone_light,
    worst,
    yellow_cutoff,
)
from taskflow.assignments.queries import assignment_light_facts, workspace_rows
from taskflow.extensions import db

TODAY = date(2024, 3, 20)
CUTOFF = date(2024, 3, 27)


def test_milestone_lights():
    assert milestone_light("pending", date(2024, 3, 19), TODAY, CUTOFF) == "red"
    assert milestone_light("returned", date(2024, 3, 19), TODAY, CUTOFF) == "red"
    assert milestone_light("returned", date(2024, 5, 1), TODAY, CUTOFF) == "yellow"
    assert milestone_light("pending", date(2024, 3, 27), TODAY, CUTOFF) == "yellow"
    assert milestone_light("pending", date(2024, 3, 28), TODAY, CUTOFF) == "green"
    # A report waiting for review does not change the light: still overdue, still red.
    assert milestone_light("submitted", date(2024, 3, 19), TODAY, CUTOFF) == "red"
    assert milestone_light("signed_off", date(2024, 3, 19), TODAY, CUTOFF) == "red"
    assert milestone_light("submitted", date(2024, 3, 28), TODAY, CUTOFF) == "green"
    # Accepted below 100 %: in progress again, overdue all the same.
    assert milestone_light("in_progress", date(2024, 3, 19), TODAY, CUTOFF) == "red"
    assert milestone_light("accepted", date(2024, 3, 1), TODAY, CUTOFF) == "green"
    assert milestone_light("closed", date(2024, 3, 1), TODAY, CUTOFF) == "green"
    # As of a past date the caller says whether it was closed then.
    assert milestone_light("accepted", date(2024, 3, 1), TODAY, CUTOFF, closed=False) == "red"


def test_assignment_lights_and_worst():
    assert assignment_light(None) == "grey"
    assert assignment_light(LightFacts(total=2)) == "green"
    assert assignment_light(LightFacts(total=2, due_soon=1)) == "yellow"
    assert assignment_light(LightFacts(total=2, returned=1)) == "yellow"
    assert assignment_light(LightFacts(total=2, overdue=1, returned=1)) == "red"
    assert worst(["green", "yellow", "grey"]) == "yellow" and worst([]) == "grey"


def test_yellow_cutoff_counts_working_days(app):
    # 2024-09-30 (Mon) + 2 working days skips the National Day holiday (Oct 1–7).
    assert yellow_cutoff(date(2024, 9, 30), 2) == date(2024, 10, 9)
    app.config["LIGHT_YELLOW_WORKING_DAYS"] = 1
    assert yellow_cutoff(date(2024, 3, 22)) == date(2024, 3, 25)  # Friday → Monday


def test_aggregate_facts_match_the_rules(world, make_milestone):
    make_milestone(assignment=world.a, title="逾期", due=date(2024, 3, 1))
    make_milestone(assignment=world.b, title="已办结", due=date(2024, 3, 1), state="accepted",
                   progress=100, accepted_progress=100, completed_on=date(2024, 3, 5))
    facts = assignment_light_facts([world.a.id, world.b.id, world.lead.id], TODAY, CUTOFF)
    assert facts[world.a.id].overdue == 1 and assignment_light(facts[world.a.id]) == "red"
    assert facts[world.a.id].next_due == date(2024, 3, 1)
    assert assignment_light(facts[world.b.id]) == "green"  # 3-31 is after the cutoff
    rows = workspace_rows(world.town_b.id, today=TODAY)
    assert [r.light for r in rows] == ["green", "green"]
    world.ms_b.due_date = date(2024, 3, 25)
    db.session.commit()
    rows = {r.assignment.id: r for r in workspace_rows(world.town_b.id, today=TODAY)}
    assert rows[world.b.id].light == "yellow"
    assert rows[world.b.id].next_milestone.id == world.ms_b.id
