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


# Rules v1 (defaults): lead on_time 0 / late ≤7d −1 / later −2 / missing −5; responsible 0 / −0.5 /
# −1.5 / −3; × weight. Indicators −1 per 10 points behind (March: expected 3/12 = 25 %).
# Notices: on time 0, late −1, unanswered −2, × level factor (red 2). Quality: first pass +0.5,
# return −1, false reporting −2. Incentive: year target reached +2, recognitions as entered.
#
# A镇 (street_town): m3 3 days late → −0.5; m4 11 days late → −1.5; execution −2.0.
#     tech 20 vs base 10 → target 50: (20−10)/40 = 25 % done, 25 % expected → 0 behind → 0.
#     high-tech 4 vs base 2 → target 4: 100 % → 0; target reached → incentive +2.
#     quality: one return −1 (the later acceptance is not a first pass) → −1.
#     total 100 − 2 + 0 + 0 − 1 + 2 = 99.0 → green (≥ 95).
# B镇: m5 missing (responsible) −3. tech 14 (the removed enterprise not counted): 10 % done,
#     15 points behind → −1.5. Notices: yellow answered on time 0; red unanswered −2 × 2 = −4.
#     total 100 − 3 − 1.5 − 4 = 91.5 → blue (≥ 90).
# C镇: m6 on time 0. tech 10: 0 % done, 25 behind → −2.5. Yellow notice answered late −1.
#     First pass +0.5. total 100 − 2.5 − 1 + 0.5 = 97.0 → green.
# 区D局 (department, lead): m1 on time 0; m2 missing −5 × weight 2 = −10. Recognition +3.
#     total 100 − 10 + 3 = 93.0 → blue.
# 区E局 (lead): m7 5 days late −1. Returned for false reporting −2. total 97.0 → green.
# Ranks: street_town A 99 (1), C 97 (2), B 91.5 (3); department E 97 (1), D 93 (2).
EXPECTED_V1 = {
    "A镇": (99.0, "green", 1), "B镇": (91.5, "blue", 3), "C镇": (97.0, "green", 2),
    "区D局": (93.0, "blue", 2), "区E局": (97.0, "green", 1),
}
EXPECTED_V1_COMPONENTS = {
    "A镇": {"execution": -2.0, "indicators": 0.0, "responsiveness": 0.0, "quality": -1.0, "incentive": 2.0},
    "B镇": {"execution": -3.0, "indicators": -1.5, "responsiveness": -4.0, "quality": 0.0, "incentive": 0.0},
    "C镇": {"execution": 0.0, "indicators": -2.5, "responsiveness": -1.0, "quality": 0.5, "incentive": 0.0},
    "区D局": {"execution": -10.0, "indicators": 0.0, "responsiveness": 0.0, "quality": 0.0, "incentive": 3.0},
    "区E局": {"execution": -1.0, "indicators": 0.0, "responsiveness": 0.0, "quality": -2.0, "incentive": 0.0},
}

# Rules v2: grace 2 days; missing lead −8 / responsible −4; first pass +2; false reporting −5;
# green from 98.
# A镇: m3 now 3 > 2 days → later −1.5; m4 −1.5 → −3.0; quality −1; incentive +2 → 98.0 green.
# B镇: missing −4; indicators −1.5; notices −4 → 90.5 blue.
# C镇: indicators −2.5; notice −1; first pass +2 → 98.5 green.
# 区D局: missing −8 × 2 = −16; recognition +3 → 87.0 yellow (≥ 80).
# 区E局: 5 > 2 days late as lead → −2; false reporting −5 → 93.0 blue.
# Ranks: street_town C 98.5 (1), A 98 (2), B 90.5 (3); department E 93 (1), D 87 (2).
EXPECTED_V2 = {
    "A镇": (98.0, "green", 2), "B镇": (90.5, "blue", 3), "C镇": (98.5, "green", 1),
    "区D局": (87.0, "yellow", 2), "区E局": (93.0, "blue", 1),
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
    assert by_reason[("milestone_missing", "milestones", s.milestones[2].id)] == -10.0
    assert by_reason[("milestone_on_time", "milestones", s.milestones[1].id)] == 0.0
    assert any(r == "recognition" and p == 3.0 for (r, _t, _i), p in by_reason.items())
    # The items add up to the card (no limit reached here).
    card = cards_by_unit(period)["区D局"]
    assert sum(Decimal(str(p)) for p in by_reason.values()) + card.base == card.computed_total
    # Milestones outside March are not scored.
    scored_milestones = set(db.session.scalars(select(ScoreItem.source_id).where(
        ScoreItem.period_id == period.id, ScoreItem.source_type == "milestones")))
    assert s.milestones[8].id not in scored_milestones and s.milestones[9].id not in scored_milestones


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
    for key in ("2024Q1", "2024"):
        result = runner.invoke(args=["scores", "recompute", "--period", key, "--now", "2024-04-10T09:00"])
        assert result.exit_code == 0, result.output
    q1 = queries.latest_period(plan.id, "2024Q1")
    # Q1 adds February's m9 (B镇, responsible, missing −3) and A's February blue notice
    # (unanswered −2 × 1): B镇 91.5 − 3 = 88.5; A镇 99 − 2 = 97.0. Indicators are read at
    # March 31 as for the month.
    totals = {name: float(c.total) for name, c in cards_by_unit(q1).items()}
    assert totals["B镇"] == 88.5 and totals["A镇"] == 97.0
    year = queries.latest_period(plan.id, "2024")
    # The year runs until today (April 10): expected progress 3/12 (months completed), so the
    # indicator deductions match March; m8 (due April 15) is not due yet.
    year_totals = {name: float(c.total) for name, c in cards_by_unit(year).items()}
    assert year_totals == totals


def test_movement_since_previous_period(build_scenario, plan, v2_parameters):
    build_scenario()
    operations.ensure_default_rules(None)
    operations.create_rule_set(None, name="2024年修订", effective_from=date(2024, 3, 1),
                               parameters=v2_parameters, note="")
    # February (rules v1, expected progress 2/12 = 16.67 %, printed 17 %):
    # A镇: blue notice unanswered −2; tech 25 % done → 0; high-tech target reached +2 → 100 (1).
    # B镇: m9 missing −3; tech 10 % done, 17 − 10 = 7 points behind (whole percentages, as the
    # dispatch board prints them) → −0.7 → 96.3 (3).
    # C镇: tech 0 % done, 17 behind → −1.7 → 98.3 (2).
    feb = operations.recompute(plan.id, "2024-02", None, today=TODAY)
    assert {n: float(c.total) for n, c in cards_by_unit(feb).items() if n.endswith("镇")} == {
        "A镇": 100.0, "B镇": 96.3, "C镇": 98.3}
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
    from taskflow.scores.jobs import recompute_open_periods

    done = recompute_open_periods(date(2024, 4, 1))
    assert "2024-03" not in done and "2024-04" in done
    assert summary(queries.period_revision(plan.id, "2024-03", 1)) == before

    corrected = operations.correct(period, supervisor, reason="补录迟报事项", today=TODAY)
    db.session.commit()
    assert corrected.revision == 2 and corrected.state == "draft"
    assert summary(corrected)["A镇"][0] == 99.0 - 3.0       # the new missing item, responsible −3
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
    operations.adjust(period, card, points_delta=Decimal("8.5"), reason="督查核实：逾期系上级原因",
                      actor=supervisor)
    db.session.commit()
    card = cards_by_unit(period)["B镇"]
    assert float(card.computed_total) == 91.5 and float(card.adjustment) == 8.5
    assert float(card.total) == 100.0 and card.grade == "green" and card.rank == 1
    # A recompute keeps the adjustment beside the recomputed value.
    operations.recompute(plan.id, "2024-03", supervisor, today=TODAY)
    db.session.commit()
    card = cards_by_unit(period)["B镇"]
    assert float(card.total) == 100.0 and float(card.adjustment) == 8.5
    # Locked: no adjustments.
    operations.lock(period, supervisor)
    with pytest.raises(operations.ScoreError):
        operations.adjust(period, card, points_delta=1, reason="再调", actor=supervisor)


def test_rule_parameters_are_validated(app):
    from taskflow.scores.rules import default_parameters

    bad = default_parameters()
    bad["execution"]["lead"]["missing"] = "a lot"
    del bad["quality"]["first_pass"]
    bad["grades"][1]["min"] = 99
    with pytest.raises(operations.ScoreError) as error:
        operations.create_rule_set(None, name="坏规则", effective_from=date(2024, 1, 1), parameters=bad)
    with app.test_request_context():
        message = str(error.value)
    assert "execution.lead.missing" in message and "quality.first_pass" in message
    assert "grades" in message


def test_every_rule_change_is_audited(app, make_user):
    from taskflow.audit.models import AuditEvent
    from taskflow.scores.rules import default_parameters

    supervisor = make_user("supervisor")
    operations.ensure_default_rules(supervisor)
    params = default_parameters()
    params["execution"]["lead"]["missing"] = -6
    operations.create_rule_set(supervisor, name="v2", effective_from=date(2024, 1, 1),
                               parameters=params, note="牵头未完成 −6")
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "scores.rules_create")
                                .order_by(AuditEvent.id)).all()
    assert len(events) == 2
    assert events[1].before["parameters"]["execution"]["lead"]["missing"] == -5
    assert events[1].after["parameters"]["execution"]["lead"]["missing"] == -6
