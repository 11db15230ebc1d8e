"""Odd and oversized input on the score pages (issue 12, A.6 and A.7): refused with a message,
nothing saved, never a server error; a bulletin saved with an overlong title still downloads."""

import pytest
from sqlalchemy import func, select

from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import Bulletin, Recognition, ScoreCard, ScorePeriod

# The plan fixture runs 2023–2027: periods, months and dates may name 2022–2028.
YEAR_MESSAGE = "年份须在 2022 至 2028 之间"


@pytest.fixture
def scored(computed, make_user):
    """The computed scenario and a supervisor."""
    computed.users["supervisor"] = make_user("supervisor", username="supervisor-s")
    return computed


def _card(period, unit):
    return db.session.scalar(select(ScoreCard).where(ScoreCard.period_id == period.id,
                                                     ScoreCard.unit_id == unit.id))


NOT_A_NUMBER = "请输入数字（不能是 NaN 或 Infinity）"
TOO_LARGE = "数字过大"


@pytest.mark.parametrize(("points", "message"), [
    *((p, NOT_A_NUMBER) for p in ("sNaN", "NaN", "-Infinity", "Infinity", "snan")),
    *((p, TOO_LARGE) for p in ("1e999999", "-1E12", "123456789012345")),
])
def test_an_adjustment_that_is_not_a_plausible_number_is_a_form_error(client, login, plan, scored,
                                                                      points, message):
    login(scored.users["supervisor"])
    period = queries.latest_period(plan.id, "2024-03")
    unit = scored.units["B"]
    response = client.post(f"/scores/periods/2024-03/r1/units/{unit.id}/adjust",
                           data={"points": points, "reason": "核实", "version": period.version_id})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.rollback()
    assert float(_card(period, unit).adjustment) == 0


def test_a_recognition_of_snan_points_is_a_form_error(client, login, plan, scored):
    login(scored.users["supervisor"])
    before = db.session.scalar(select(func.count(Recognition.id)))
    response = client.post("/scores/recognitions", data={
        "unit_id": scored.units["A"].id, "awarded_on": "2024-04-01", "title": "表扬",
        "points": "sNaN", "evidence": "文号"})
    assert response.status_code == 400
    assert "请输入数字（不能是 NaN 或 Infinity）" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Recognition.id))) == before


@pytest.mark.parametrize("awarded_on", ["1900-01-01", "9999-12-31"])
def test_a_recognition_dated_far_outside_the_plan_is_refused(client, login, plan, scored,
                                                             awarded_on):
    login(scored.users["supervisor"])
    before = db.session.scalar(select(func.count(Recognition.id)))
    response = client.post("/scores/recognitions", data={
        "unit_id": scored.units["A"].id, "awarded_on": awarded_on, "title": "表扬",
        "points": "1", "evidence": "文号"})
    assert response.status_code == 400
    assert "请选择 2022-01-01 至 2028-12-31 之间的日期" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Recognition.id))) == before


@pytest.mark.parametrize("period, message", [
    ("0000", "请按 2024-03、2024Q1 或 2024 的格式填写"),
    ("0000-01", "请按 2024-03、2024Q1 或 2024 的格式填写"),
    ("2024-13", "请按 2024-03、2024Q1 或 2024 的格式填写"),
    ("1900", YEAR_MESSAGE),
    ("1900-01", YEAR_MESSAGE),
    ("9999Q4", YEAR_MESSAGE),
])
def test_the_recompute_form_refuses_invalid_and_implausible_periods(client, login, plan, scored,
                                                                    period, message):
    login(scored.users["office"])
    before = db.session.scalar(select(func.count(ScorePeriod.id)))
    response = client.post("/scores/recompute", data={"period": period}, follow_redirects=True)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ScorePeriod.id))) == before


def test_recompute_by_url_refuses_a_period_outside_the_plan(client, login, plan, scored):
    login(scored.users["office"])
    before = db.session.scalar(select(func.count(ScorePeriod.id)))
    response = client.post("/scores/periods/1900/recompute", follow_redirects=True)
    assert YEAR_MESSAGE in response.get_data(as_text=True)
    assert client.post("/scores/periods/0000/recompute").status_code == 404
    assert db.session.scalar(select(func.count(ScorePeriod.id))) == before
    # A period inside the plan is still recomputed.
    assert client.post("/scores/recompute", data={"period": "2024-02"}).status_code == 302
    assert queries.latest_period(plan.id, "2024-02") is not None


@pytest.mark.parametrize("year", ["-5", "1899", "99999", "2" * 30, "abc"])
def test_cockpit_data_refuses_an_implausible_year_with_a_message(client, login, plan, scored, year):
    login(scored.users["office"])
    response = client.get(f"/cockpit/data.json?year={year}")
    assert response.status_code == 400
    assert "年份须在 2000 至 2100 之间" in response.get_data(as_text=True)
    assert client.get("/cockpit/data.json?year=2024").status_code == 200
    assert client.get(f"/scores/map?year={year}").status_code == 400


def _published_bulletin(plan, scored):
    quarter = queries.latest_period(plan.id, "2024Q1")
    operations.lock(quarter, scored.users["supervisor"])
    operations.publish(quarter, scored.users["supervisor"])
    bulletin = operations.create_bulletin(quarter, scored.users["office"])
    db.session.commit()
    return bulletin


def test_a_bulletin_title_longer_than_its_column_is_refused(client, login, plan, scored):
    login(scored.users["office"])
    bulletin = _published_bulletin(plan, scored)
    title = bulletin.title
    sections = {f"section-{s.key}": s.body for s in bulletin.sections}
    url = f"/scores/bulletins/{bulletin.id}"
    response = client.post(url, data=dict(sections, title="通" * 1_000_000,
                                          version=bulletin.version_id), follow_redirects=True)
    assert response.status_code == 200
    assert "200" in response.get_data(as_text=True)  # the cap is named in the message
    db.session.rollback()
    assert bulletin.title == title
    long_section = dict(sections, title="新标题", version=bulletin.version_id)
    long_section["section-intro"] = "字" * 20_001
    response = client.post(url, data=long_section, follow_redirects=True)
    assert "每节最多 20000 个字符" in response.get_data(as_text=True)
    db.session.rollback()
    assert bulletin.title == title
    # At the cap it is saved.
    response = client.post(url, data=dict(sections, title="题" * 200, version=bulletin.version_id))
    assert response.status_code == 302
    db.session.rollback()
    assert bulletin.title == "题" * 200


def test_a_bulletin_saved_with_a_huge_title_still_downloads(app, client, login, plan, scored):
    login(scored.users["office"])
    bulletin = _published_bulletin(plan, scored)
    if db.engine.dialect.name == "postgresql":
        # PostgreSQL enforces VARCHAR(200), so such a title exists only in SQLite databases.
        title = "通" * 200
    else:
        title = "二〇二四年第一季度通报" * 100_000  # 1.1 M characters, as saved before the cap
    db.session.execute(Bulletin.__table__.update().where(Bulletin.id == bulletin.id)
                       .values(title=title))
    db.session.commit()
    response = client.get(f"/scores/bulletins/{bulletin.id}/bulletin.docx")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert len(disposition) < 1000
    assert disposition.endswith(".docx") and "filename*=UTF-8''" in disposition
