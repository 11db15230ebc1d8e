"""Scores of a known scenario against values worked out by hand, under two rule versions."""

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import ScoreCard, ScoreItem

TODAY = date(2024, 4, 10)


def cards_by_unit(period):
    rows = db.session.scalars(select(ScoreCard).where(ScoreCard.period_id == period.id))
    return {card.unit.name: card for card in rows}


def summary(period):
    return {name: (float(c.total), c.grade, c.rank) for name, c in cards_by_unit(period).items()}


# Rules v1 (defaults), read as of March 31 (the period's end), lateness and overdue in working
# days (March 2024 has no public holiday): a milestone closed in the period: on time 0, late ≤ 5
# working days −1 lead / −0.5 responsible, later −2 / −1.5; a milestone still open and overdue on
# March 31, whenever it fell due: ≤ 20 working days overdue −3 / −2, more −5 / −3; × weight.
# Indicators −1 per 10 points behind (March: expected 3/12 = 25 %). Notices whose answer was due
# in March: on time 0, late −1, unanswered −2, × level factor (red 2). Quality: first pass +0.5,
# return −1, false reporting −2. Incentive: year target reached +2, recognitions as entered.
# A unit without an indicator target: indicators = −20 × (points lost ÷ maxima) over the
# components that apply to it (execution max 40, responsiveness 20, quality 20).
#
# A镇 (street_town): m3 closed Mon 18th, due Fri 15th: 1 working day late → −0.5; m4 (due 25th,
#     closed April 5th) is open and overdue 4 working days on March 31 → −2; execution −2.5.
#     tech 20 vs base 10 → target 50: (20−10)/40 = 25 % done, 25 % expected → 0 behind → 0.
#     high-tech 4 vs base 2 → target 4: 100 % → 0; target reached → incentive +2.
#     quality: one return −1 (the later acceptance is not a first pass) → −1.
#     total 100 − 2.5 + 0 + 0 − 1 + 2 = 98.5 → green (≥ 95).
# B镇: m5 is due on March 31 itself: not overdue on that day → nothing. m9 (due February 20,
#     still open) is 28 working days overdue → −3 (it counts again in March). tech 14 (the removed
#     enterprise not counted): 10 % done, 15 points behind → −1.5. Yellow notice answered on time
#     0; the red notice is due April 2 (an April matter). total 100 − 3 − 1.5 = 95.5 → green.
# C镇: m6 on time 0. tech 10: 0 % done, 25 behind → −2.5. Yellow notice answered late −1.
#     First pass +0.5. total 100 − 2.5 − 1 + 0.5 = 97.0 → green.
# 区D局 (department, lead, no target): m1 on time 0; m2 (weight 2) open, 7 working days overdue →
#     −3 × 2 = −6. Indicators re-weighted: lost 6 of 40 → 15 % of 20 → −3. Recognition +3.
#     total 100 − 6 − 3 + 3 = 94.0 → blue.
# 区E局 (lead, no target): m7 closed Sunday 17th, due Tuesday 12th: 3 working days late → −1.
#     Returned for false reporting −2. Re-weighted: lost 1 + 2 of 40 + 20 → 5 % of 20 → −1.
#     total 100 − 1 − 1 − 2 = 96.0 → green.
# Ranks: street_town A 98.5 (1), C 97 (2), B 95.5 (3); department E 96 (1), D 94 (2).
EXPECTED_V1 = {
    "A镇": (98.5, "green", 1), "B镇": (95.5, "green", 3), "C镇": (97.0, "green", 2),
    "区D局": (94.0, "blue", 2), "区E局": (96.0, "green", 1),
}
EXPECTED_V1_COMPONENTS = {
    "A镇": {"execution": -2.5, "indicators": 0.0, "responsiveness": 0.0, "quality": -1.0, "incentive": 2.0},
    "B镇": {"execution": -3.0, "indicators": -1.5, "responsiveness": 0.0, "quality": 0.0, "incentive": 0.0},
    "C镇": {"execution": 0.0, "indicators": -2.5, "responsiveness": -1.0, "quality": 0.5, "incentive": 0.0},
    "区D局": {"execution": -6.0, "indicators": -3.0, "responsiveness": 0.0, "quality": 0.0, "incentive": 3.0},
    "区E局": {"execution": -1.0, "indicators": -1.0, "responsiveness": 0.0, "quality": -2.0, "incentive": 0.0},
}

# Rules v2: no grace (any lateness is late_major); open overdue ≤ 20 working days: lead −4,
# responsible −3; first pass +2; false reporting −5; green from 98.
# A镇: m3 late_major −1.5; m4 overdue −3 → −4.5; quality −1; incentive +2 → 96.5 blue.
# B镇: m9 still −3; indicators −1.5 → 95.5 blue.
# C镇: indicators −2.5; notice −1; first pass +2 → 98.5 green.
# 区D局: m2 −4 × 2 = −8; re-weighted 8/40 → −4; recognition +3 → 91.0 blue.
# 区E局: m7 late_major as lead −2; false reporting −5; re-weighted 7/60 of 20 → −2.33 → 90.67 blue.
# Ranks: street_town C 98.5 (1), A 96.5 (2), B 95.5 (3); department D 91 (1), E 90.67 (2).
EXPECTED_V2 = {
    "A镇": (96.5, "blue", 2), "B镇": (95.5, "blue", 3), "C镇": (98.5, "green", 1),
    "区D局": (91.0, "blue", 1), "区E局": (90.67, "blue", 2),
}


def test_scores_match_the_hand_worked_values_under_rule_v1(build_scenario, plan):
    build_scenario()
    period = operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.commit()
    assert period.rule_set.version == 1
    assert summary(period) == EXPECTED_V1
    for name, card in cards_by_unit(period).items():
        got = {c: float(card.component(c)) for c in EXPECTED_V1_COMPONENTS[name]}
        assert got == EXPECTED_V1_COMPONENTS[name], name


def test_scores_under_rule_v2_and_both_versions_kept(build_scenario, plan, v2_parameters):
    build_scenario()
    operations.ensure_default_rules(None)
    v2 = operations.create_rule_set(None, name="2024年修订", effective_from=date(2024, 3, 1),
                                    parameters=v2_parameters, note="加重未完成扣分")
    db.session.commit()
    assert v2.version == 2
    # The rule in force at the period's end is v2.
    period = operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.commit()
    assert period.rule_set.version == 2
    assert summary(period) == EXPECTED_V2
    # An explicit older version still computes the v1 values.
    period = operations.recompute(plan.id, "2024-03", None, today=TODAY, rule_version=1)
    db.session.commit()
    assert summary(period) == EXPECTED_V1
    # February is before v2 takes effect: v1 applies.
    feb = operations.recompute(plan.id, "2024-02", None, today=TODAY)
    assert feb.rule_set.version == 1


def test_every_point_links_to_its_event(build_scenario, plan):
    s = build_scenario()
    period = operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.commit()
    items = db.session.scalars(select(ScoreItem).where(
        ScoreItem.period_id == period.id, ScoreItem.unit_id == s.units["D"].id)).all()
    by_reason = {(i.reason, i.source_type, i.source_id): float(i.points) for i in items}
    assert by_reason[("milestone_overdue_minor", "milestones", s.milestones[2].id)] == -6.0
    assert by_reason[("milestone_on_time", "milestones", s.milestones[1].id)] == 0.0
    assert any(r == "recognition" and p == 3.0 for (r, _t, _i), p in by_reason.items())
    assert by_reason[("indicator_reweighted", "", None)] == -3.0
    # The items add up to the card (no limit reached here).
    card = cards_by_unit(period)["区D局"]
    assert sum(Decimal(str(p)) for p in by_reason.values()) + card.base == card.computed_total
    # A milestone not yet due is not scored; February's m9, still open, is scored again in March.
    scored_milestones = set(db.session.scalars(select(ScoreItem.source_id).where(
        ScoreItem.period_id == period.id, ScoreItem.source_type == "milestones")))
    assert s.milestones[8].id not in scored_milestones and s.milestones[9].id in scored_milestones


def test_recomputing_twice_gives_identical_scores(build_scenario, plan, runner):
    build_scenario()
    first = runner.invoke(args=["scores", "recompute", "--period", "2024-03", "--now", "2024-04-10T09:00"])
    assert first.exit_code == 0, first.output
    shown = runner.invoke(args=["scores", "show", "--period", "2024-03", "--json"])
    items_1 = db.session.execute(select(ScoreItem.unit_id, ScoreItem.component, ScoreItem.points,
                                        ScoreItem.reason, ScoreItem.source_type,
                                        ScoreItem.source_id).order_by(ScoreItem.id)).all()
    second = runner.invoke(args=["scores", "recompute", "--period", "2024-03", "--now", "2024-04-10T09:00"])
    assert second.exit_code == 0, second.output
    shown_again = runner.invoke(args=["scores", "show", "--period", "2024-03", "--json"])
    items_2 = db.session.execute(select(ScoreItem.unit_id, ScoreItem.component, ScoreItem.points,
                                        ScoreItem.reason, ScoreItem.source_type,
                                        ScoreItem.source_id).order_by(ScoreItem.id)).all()
    assert json.loads(shown.output) == json.loads(shown_again.output)
    assert items_1 == items_2
    payload = json.loads(shown.output)
    got = {u["unit"]: (u["total"], u["grade"], u["rank"]) for u in payload["units"]}
    assert got == EXPECTED_V1
    assert set(payload["units"][0]["components"]) == {"execution", "indicators", "responsiveness",
                                                       "quality", "incentive"}


def test_quarter_and_year_roll_up(build_scenario, plan, runner):
    build_scenario()
    for key in ("2024-03", "2024Q1", "2024"):
        result = runner.invoke(args=["scores", "recompute", "--period", key, "--now", "2024-04-10T09:00"])
        assert result.exit_code == 0, result.output
    march = {name: c for name, c in cards_by_unit(queries.latest_period(plan.id, "2024-03")).items()}
    q1 = cards_by_unit(queries.latest_period(plan.id, "2024Q1"))
    # Q1 is read as of March 31 like March: the same closed and open-overdue milestones; it adds
    # A's February blue notice (unanswered −2 × 1): A镇 98.5 − 2 = 96.5, the rest as in March.
    totals = {name: float(c.total) for name, c in q1.items()}
    assert totals == {name: float(c.total) - (2.0 if name == "A镇" else 0.0)
                      for name, c in march.items()}
    assert totals["A镇"] == 96.5
    year = cards_by_unit(queries.latest_period(plan.id, "2024"))
    # The year runs until today (April 10). Execution as of April 10 (Qingming: April 4–6 off,
    # Sunday April 7 a working day): A's m4 closed April 5, 7 working days late → −1.5 (with m3
    # −0.5: −2); B's m5 (due March 31) is now 7 working days overdue → −2, m9 still −3 → −5;
    # 区D局's m2 is 14 working days overdue → −6. The red notice to B (due April 2, unanswered)
    # → −4; A's February notice −2; C's late answer −1.
    assert {name: float(c.execution) for name, c in year.items()} == {
        "A镇": -2.0, "B镇": -5.0, "C镇": 0.0, "区D局": -6.0, "区E局": -1.0}
    assert {name: float(c.responsiveness) for name, c in year.items()} == {
        "A镇": -2.0, "B镇": -4.0, "C镇": -1.0, "区D局": 0.0, "区E局": 0.0}


def test_movement_since_previous_period(build_scenario, plan, v2_parameters):
    build_scenario()
    operations.ensure_default_rules(None)
    operations.create_rule_set(None, name="2024年修订", effective_from=date(2024, 3, 1),
                               parameters=v2_parameters, note="")
    # February (rules v1, as of February 29, expected progress 2/12 = 16.67 %, printed 17 %):
    # A镇: blue notice unanswered −2; tech 25 % done → 0; high-tech target reached +2 → 100 (1).
    # B镇: m9 open, 7 working days overdue → −2; tech 10 % done, 17 − 10 = 7 points behind (whole
    # percentages, as the dispatch board prints them) → −0.7 → 97.3 (3).
    # C镇: tech 0 % done, 17 behind → −1.7 → 98.3 (2).
    feb = operations.recompute(plan.id, "2024-02", None, today=TODAY)
    assert {n: float(c.total) for n, c in cards_by_unit(feb).items() if n.endswith("镇")} == {
        "A镇": 100.0, "B镇": 97.3, "C镇": 98.3}
    # March under v2: C镇 1st, A镇 2nd, B镇 3rd (EXPECTED_V2).
    march = operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.commit()
    moves = {name: (c.previous_rank, c.rank, c.movement) for name, c in cards_by_unit(march).items()}
    assert moves["A镇"] == (1, 2, -1)
    assert moves["C镇"] == (2, 1, 1)
    assert moves["B镇"] == (3, 3, 0)


def test_published_period_never_changes_and_a_correction_is_a_new_revision(
        build_scenario, plan, make_user, make_milestone, runner):
    s = build_scenario()
    supervisor = make_user("supervisor")
    period = operations.recompute(plan.id, "2024-03", supervisor, today=TODAY)
    operations.lock(period, supervisor)
    operations.publish(period, supervisor)
    db.session.commit()
    before = summary(period)

    # New facts after publication: another missing item for A镇.
    from taskflow.assignments.models import Assignment

    a_assignment = db.session.scalar(select(Assignment).where(Assignment.unit_id == s.units["A"].id))
    make_milestone(a_assignment, due=date(2024, 3, 28), title="迟报事项")
    refused = runner.invoke(args=["scores", "recompute", "--period", "2024-03", "--now", "2024-04-10T09:00"])
    assert refused.exit_code != 0
    assert "published" in refused.output or "已发布" in refused.output
    with pytest.raises(operations.ScoreError):
        operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.rollback()
    assert summary(queries.latest_period(plan.id, "2024-03")) == before
    # The nightly job leaves it alone too.
    from taskflow.scores.jobs import nightly_recompute

    done = nightly_recompute(date(2024, 4, 1))["recomputed"]
    assert "2024-03" not in done and "2024-04" in done
    assert summary(queries.period_revision(plan.id, "2024-03", 1)) == before

    corrected = operations.correct(period, supervisor, reason="补录迟报事项", today=TODAY)
    db.session.commit()
    assert corrected.revision == 2 and corrected.state == "draft"
    # The new item (due March 28, open) was 1 working day overdue on March 31: responsible −2.
    assert summary(corrected)["A镇"][0] == 98.5 - 2.0
    assert summary(queries.period_revision(plan.id, "2024-03", 1)) == before
    assert [r.revision for r in queries.period_revisions(plan.id, "2024-03")] == [2, 1]


def test_adjustment_keeps_the_computed_value_and_reranks(build_scenario, plan, make_user):
    build_scenario()
    supervisor = make_user("supervisor")
    period = operations.recompute(plan.id, "2024-03", supervisor, today=TODAY)
    db.session.commit()
    card = cards_by_unit(period)["B镇"]
    with pytest.raises(operations.ScoreError):
        operations.adjust(period, card, points_delta=5, reason="  ", actor=supervisor)
    # More than the rules' adjustment.max (20) is refused.
    with pytest.raises(operations.ScoreError):
        operations.adjust(period, card, points_delta=21, reason="超限", actor=supervisor)
    operations.adjust(period, card, points_delta=Decimal("4.5"), reason="督查核实：逾期系上级原因",
                      actor=supervisor)
    db.session.commit()
    card = cards_by_unit(period)["B镇"]
    assert float(card.computed_total) == 95.5 and float(card.adjustment) == 4.5
    assert float(card.total) == 100.0 and card.grade == "green" and card.rank == 1
    # A recompute keeps the adjustment beside the recomputed value.
    operations.recompute(plan.id, "2024-03", supervisor, today=TODAY)
    db.session.commit()
    card = cards_by_unit(period)["B镇"]
    assert float(card.total) == 100.0 and float(card.adjustment) == 4.5
    # Locked: no adjustments.
    operations.lock(period, supervisor)
    with pytest.raises(operations.ScoreError):
        operations.adjust(period, card, points_delta=1, reason="再调", actor=supervisor)


def test_rule_parameters_are_validated(app):
    from taskflow.scores.rules import default_parameters

    bad = default_parameters()
    bad["execution"]["lead"]["overdue_major"] = "a lot"
    bad["governance"]["second_person"] = 1
    del bad["quality"]["first_pass"]
    bad["grades"][1]["min"] = 99
    with pytest.raises(operations.ScoreError) as error:
        operations.create_rule_set(None, name="坏规则", effective_from=date(2024, 1, 1), parameters=bad)
    with app.test_request_context():
        message = str(error.value)
    assert "execution.lead.overdue_major" in message and "quality.first_pass" in message
    assert "governance.second_person" in message
    assert "grades" in message


def test_every_rule_change_is_audited(app, make_user):
    from taskflow.audit.models import AuditEvent
    from taskflow.scores.rules import default_parameters

    supervisor = make_user("supervisor")
    operations.ensure_default_rules(supervisor)
    params = default_parameters()
    params["execution"]["lead"]["overdue_major"] = -6
    operations.create_rule_set(supervisor, name="v2", effective_from=date(2024, 1, 1),
                               parameters=params, note="牵头未完成 −6")
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "scores.rules_create")
                                .order_by(AuditEvent.id)).all()
    assert len(events) == 2
    assert events[1].before["parameters"]["execution"]["lead"]["overdue_major"] == -5
    assert events[1].after["parameters"]["execution"]["lead"]["overdue_major"] == -6
