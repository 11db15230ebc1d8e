"""Score pages: the permission walk for every role, supervision actions, reports, the cockpit."""

import io
import re
from datetime import date, datetime, timezone

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import Bulletin, ScoreCard
from tests.printing import needs_office, page_texts, pdf_info, to_pdf

TODAY = date(2024, 4, 10)
NOW = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def frozen(freeze):
    freeze(NOW)


@pytest.fixture
def scored(computed, make_user):
    """The computed scenario and a user of each reviewing role."""
    s = computed
    for role in ("supervisor", "leader", "admin"):
        s.users[role] = make_user(role, username=f"{role}-s")
    s.users["head-A"] = make_user("unit_head", unit=s.units["A"], username="head-A")
    return s


def publish(plan, key, actor=None):
    period = queries.latest_period(plan.id, key)
    operations.lock(period, actor)
    operations.publish(period, actor)
    db.session.commit()
    return period


def test_unit_user_sees_only_published_scores_and_only_its_own_breakdown(client, login, plan, scored):
    a, b = scored.units["A"], scored.units["B"]
    login(scored.users["rep-A"])
    assert client.get("/scores/").status_code == 200
    # Draft periods do not exist for unit users.
    assert client.get("/scores/periods/2024-03").status_code == 404
    assert client.get(f"/scores/periods/2024-03/units/{a.id}").status_code == 404
    publish(plan, "2024-03")
    page = client.get("/scores/periods/2024-03")
    assert page.status_code == 200 and "A镇" in page.text and "B镇" in page.text
    own = client.get(f"/scores/periods/2024-03/units/{a.id}")
    assert own.status_code == 200
    assert "98.50" in own.text and "m3" in own.text  # why: the late milestone is listed
    assert client.get(f"/scores/periods/2024-03/units/{b.id}").status_code == 404
    # Forbidden actions and pages.
    period = queries.latest_period(plan.id, "2024-03")
    for url in (f"/scores/periods/2024-03/r1/units/{a.id}/adjust", "/scores/periods/2024-03/r1/lock",
                "/scores/periods/2024-03/r1/correct", "/scores/recompute", "/scores/bulletins"):
        assert client.post(url, data={"points": "5", "reason": "x", "version": period.version_id,
                                      "period": "2024-03", "period_id": period.id}).status_code == 403, url
    for url in ("/cockpit", "/cockpit/data.json", "/scores/map", "/scores/rules", "/scores/recognitions",
                "/scores/periods/2024-03/innovation-report.xlsx", "/scores/bulletins"):
        assert client.get(url).status_code == 403, url


def test_unit_head_of_a_unit_is_held_to_the_same_rules(client, login, plan, scored):
    publish(plan, "2024-03")
    login(scored.users["head-A"])
    assert client.get(f"/scores/periods/2024-03/units/{scored.units['A'].id}").status_code == 200
    assert client.get(f"/scores/periods/2024-03/units/{scored.units['C'].id}").status_code == 404


def test_leader_reads_everything_and_changes_nothing(client, login, plan, scored):
    login(scored.users["leader"])
    for url in ("/cockpit", "/cockpit/data.json", "/scores/", "/scores/periods/2024-03", "/scores/map",
                f"/scores/periods/2024-03/units/{scored.units['B'].id}", "/scores/rules",
                "/scores/recognitions", "/scores/bulletins"):
        assert client.get(url).status_code == 200, url
    period = queries.latest_period(plan.id, "2024-03")
    card_id = scored.units["B"].id
    assert client.post(f"/scores/periods/2024-03/r1/units/{card_id}/adjust",
                       data={"points": "3", "reason": "x", "version": period.version_id}).status_code == 403
    for action in ("lock", "publish", "unlock", "correct"):
        assert client.post(f"/scores/periods/2024-03/r1/{action}",
                           data={"version": period.version_id, "reason": "x"}).status_code == 403
    assert client.post("/scores/recompute", data={"period": "2024-03"}).status_code == 403
    assert client.get("/scores/rules/new").status_code == 403
    assert client.post("/scores/recognitions", data={"title": "x"}).status_code == 403
    assert client.post("/scores/bulletins", data={"period_id": period.id}).status_code == 403
    assert queries.latest_period(plan.id, "2024-03").state == "draft"


def test_supervisor_adjusts_locks_and_publishes(client, login, plan, scored):
    login(scored.users["supervisor"])
    b = scored.units["B"]
    period = queries.latest_period(plan.id, "2024-03")
    url = f"/scores/periods/2024-03/r1/units/{b.id}/adjust"
    # The reason is mandatory.
    refused = client.post(url, data={"points": "5", "reason": "", "version": period.version_id})
    assert refused.status_code == 400
    card = db.session.scalar(select(ScoreCard).where(ScoreCard.period_id == period.id,
                                                     ScoreCard.unit_id == b.id))
    assert float(card.total) == 95.5
    done = client.post(url, data={"points": "4", "reason": "核实后加分", "version": period.version_id})
    assert done.status_code == 302
    db.session.rollback()
    assert (float(card.computed_total), float(card.adjustment), float(card.total)) == (95.5, 4.0, 99.5)
    page = client.get(f"/scores/periods/2024-03/units/{b.id}")
    assert "核实后加分" in page.text and "95.50" in page.text
    # Lock, then publish, each after a confirmation page; a recompute of the published period
    # is refused.
    db.session.rollback()
    assert client.post("/scores/periods/2024-03/r1/lock",
                       data={"version": period.version_id, "confirm": "yes"}).status_code == 302
    db.session.rollback()
    assert period.state == "locked"
    # A stale form (old version) is refused.
    client.post("/scores/periods/2024-03/r1/publish", data={"version": period.version_id - 1,
                                                            "confirm": "yes"})
    db.session.rollback()
    assert period.state == "locked"
    assert client.post("/scores/periods/2024-03/r1/publish",
                       data={"version": period.version_id, "confirm": "yes"}).status_code == 302
    db.session.rollback()
    assert period.state == "published"
    client.post("/scores/periods/2024-03/recompute")
    db.session.rollback()
    assert float(card.total) == 99.5 and queries.latest_period(plan.id, "2024-03").revision == 1
    # A correction: a new revision; both stay visible.
    response = client.post("/scores/periods/2024-03/r1/correct",
                           data={"version": period.version_id, "reason": "数据更正"})
    assert response.status_code == 302
    assert [r.revision for r in queries.period_revisions(plan.id, "2024-03")] == [2, 1]
    assert client.get("/scores/periods/2024-03?revision=1").status_code == 200
    assert "数据更正" in client.get("/scores/periods/2024-03?revision=2").text


def test_supervisor_edits_rules_as_a_new_version_and_enters_recognitions(client, login, plan, scored):
    login(scored.users["supervisor"])
    form = client.get("/scores/rules/new")
    assert form.status_code == 200
    import json

    params = json.loads(re.search(r'<textarea[^>]*name="parameters"[^>]*>(.*?)</textarea>', form.text, re.S)
                        .group(1).replace("&#34;", '"').replace("&quot;", '"'))
    params["execution"]["lead"]["overdue_minor"] = -6
    bad = client.post("/scores/rules/new", data={"name": "v2", "effective_from": "2024-03-01",
                                                  "parameters": "{", "note": "x"})
    assert bad.status_code == 400
    ok = client.post("/scores/rules/new", data={"name": "2024年修订", "effective_from": "2024-03-01",
                                                 "parameters": json.dumps(params), "note": "牵头未完成 −6"})
    assert ok.status_code == 302
    assert [r.version for r in queries.rule_sets()] == [2, 1]
    assert client.get("/scores/rules/2").status_code == 200
    response = client.post("/scores/recognitions", data={
        "unit_id": scored.units["C"].id, "awarded_on": "2024-03-25", "title": "先进集体",
        "points": "2", "evidence": "綦江府办〔2024〕3号"})
    assert response.status_code == 302
    missing_evidence = client.post("/scores/recognitions", data={
        "unit_id": scored.units["C"].id, "awarded_on": "2024-03-25", "title": "先进集体",
        "points": "2", "evidence": ""})
    assert missing_evidence.status_code == 400
    # Recompute as the supervisor: v2 applies to March and the recognition counts.
    client.post("/scores/recompute", data={"period": "2024-03"})
    period = queries.latest_period(plan.id, "2024-03")
    assert period.rule_set.version == 2
    card = queries.card_for(period, scored.units["C"].id)
    assert float(card.incentive) == 2.0 and float(card.total) == 99.0
    # 区D局's open overdue lead item now weighs −6 × 2.
    assert float(queries.card_for(period, scored.units["D"].id).execution) == -12.0


def test_office_recomputes_but_cannot_adjust(client, login, plan, scored):
    login(scored.users["office"])
    assert client.post("/scores/recompute", data={"period": "2024Q1"}).status_code == 302
    period = queries.latest_period(plan.id, "2024-03")
    assert client.post(f"/scores/periods/2024-03/r1/units/{scored.units['A'].id}/adjust",
                       data={"points": "3", "reason": "x", "version": period.version_id}).status_code == 403
    assert client.post("/scores/periods/2024-03/r1/lock", data={"version": period.version_id}).status_code == 403
    assert client.get("/cockpit").status_code == 200
    assert client.get("/").headers["Location"].endswith("/cockpit")


def test_admin_reads_but_does_not_score(client, login, plan, scored):
    login(scored.users["admin"])
    assert client.get("/cockpit").status_code == 200
    period = queries.latest_period(plan.id, "2024-03")
    assert client.post("/scores/periods/2024-03/r1/lock", data={"version": period.version_id}).status_code == 403


def test_monthly_innovation_report_reads_back_with_the_right_totals(client, login, plan, scored):
    login(scored.users["office"])
    response = client.get("/scores/periods/2024-03/innovation-report.xlsx")
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "创新报表 2024年03月"
    assert rows[1][0].startswith("数据截至 2024-03-31 · 制表单位 ")
    header, body, total = rows[2], rows[3:-1], rows[-1]
    assert [r[1] for r in body] == ["A镇", "B镇", "C镇"]
    tech, tech_target, high = 2, 3, 7
    assert len(header) == 19
    # Register: A 20, B 14 (one removed before March's end), C 10 → 44; targets 3 × 50 = 150.
    assert [r[tech] for r in body] == [20, 14, 10]
    assert total[tech] == 44 == sum(r[tech] for r in body)
    assert total[tech_target] is None  # the district target is the plan's 合计 row: none here
    assert total[high] == 4
    # Scores and ranks come from the period.
    assert body[0][-3] == 98.5 and body[0][-1] == "1/3"
    ranking = book.worksheets[1]
    totals = {r[2]: r[10] for r in list(ranking.iter_rows(values_only=True))[3:]}
    assert totals == {"A镇": 98.5, "B镇": 95.5, "C镇": 97.0, "区D局": 94.0, "区E局": 96.0}
    # Not a month: no report.
    assert client.get("/scores/periods/2024Q1/innovation-report.xlsx").status_code == 404


def test_office_drafts_edits_and_publishes_the_quarterly_bulletin(client, login, plan, scored):
    login(scored.users["office"])
    quarter = queries.latest_period(plan.id, "2024Q1")
    # A draft quarter cannot be bulletined, nor a locked one: only published scores.
    client.post("/scores/bulletins", data={"period_id": quarter.id})
    assert db.session.scalar(select(Bulletin)) is None
    operations.lock(quarter, scored.users["supervisor"])
    db.session.commit()
    client.post("/scores/bulletins", data={"period_id": quarter.id})
    assert db.session.scalar(select(Bulletin)) is None
    operations.publish(quarter, scored.users["supervisor"])
    db.session.commit()
    response = client.post("/scores/bulletins", data={"period_id": quarter.id})
    assert response.status_code == 302
    bulletin = db.session.scalar(select(Bulletin))
    assert [s.key for s in bulletin.sections] == ["intro", "rankings", "red_list", "progress",
                                                   "commendations", "requirements"]
    assert "区D局" in bulletin.sections[4].body  # the recognition is commended
    # Leaders and supervisors read it; they cannot edit it.
    url = f"/scores/bulletins/{bulletin.id}"
    sections = {f"section-{s.key}": s.body for s in bulletin.sections}
    edit = dict(sections, title="2024年第一季度“双倍增”工作通报", version=bulletin.version_id)
    edit["section-intro"] = "一季度，全区各单位按照工作方案推进。"
    response = client.post(url, data=edit)
    assert response.status_code == 302
    db.session.rollback()
    assert bulletin.title == "2024年第一季度“双倍增”工作通报"
    assert bulletin.sections[0].body == "一季度，全区各单位按照工作方案推进。"
    # A stale edit is refused.
    stale = dict(edit, version=bulletin.version_id - 1)
    stale["section-intro"] = "旧稿"
    client.post(url, data=stale)
    db.session.rollback()
    assert bulletin.sections[0].body == "一季度，全区各单位按照工作方案推进。"
    # Publishing asks for confirmation first (a page, no script): without it nothing changes.
    confirm = client.get(f"{url}/publish")
    assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.text
    assert client.post(f"{url}/publish", data={"version": bulletin.version_id}).status_code == 302
    db.session.rollback()
    assert bulletin.state == "draft"
    assert client.post(f"{url}/publish", data={"version": bulletin.version_id,
                                               "confirm": "yes"}).status_code == 302
    db.session.rollback()
    assert bulletin.state == "published"
    # Frozen: further edits change nothing.
    client.post(url, data=dict(edit, version=bulletin.version_id, title="改"))
    db.session.rollback()
    assert bulletin.title == "2024年第一季度“双倍增”工作通报"
    # The Word document opens, with its text, tables and chart images.
    client.post("/logout")
    login(scored.users["leader"])
    assert client.post(url, data=edit).status_code == 403
    docx = client.get(f"{url}/bulletin.docx")
    assert docx.status_code == 200
    document = Document(io.BytesIO(docx.data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "一季度，全区各单位按照工作方案推进。" in text
    assert len(document.tables) >= 4
    cells = {c.text for t in document.tables for row in t.rows for c in row.cells}
    # m4 was overdue on March 31 (closed April 5): the red list is as of the quarter's end.
    assert {"A镇", "B镇", "区D局", "m4"} <= cells and "m5" not in cells
    images = [r for r in document.part.rels.values() if "image" in r.reltype]
    assert len(images) >= 3  # a bar chart per peer group and the progress chart


def test_five_colour_map_colours_units_by_grade(client, login, plan, scored):
    login(scored.users["leader"])
    page = client.get("/scores/map?year=2024")
    assert page.status_code == 200
    assert 'data-grade="green"' in page.text and 'data-grade="blue"' in page.text
    assert "培育科技型企业" in page.text  # the district's progress task by task


def test_cockpit_figures_click_through(client, login, plan, scored):
    login(scored.users["leader"])
    page = client.get("/cockpit")
    assert page.status_code == 200
    assert 'data-figure="tech_in_library"' in page.text
    assert f"/scores/periods/2024-03/units/{scored.units['A'].id}" in page.text
    assert "<script>" not in page.text  # no inline scripts (CSP script-src 'self')
    assert "chart.umd.js" in page.text and "scores/cockpit.js" in page.text
    data = client.get("/cockpit/data.json").get_json()
    assert data["register"]["labels"] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    # 45 in January: one enterprise left the library on February 1.
    assert data["register"]["series"][0]["data"] == [45, 44, 44, 44]
    assert any(s["data"][2] is not None for s in data["scores"]["series"])


def _page_queries(client, count_queries, urls):
    counts = []
    for url in urls:
        with count_queries() as counter:
            assert client.get(url).status_code == 200, url
        counts.append(counter.count)
    return counts


def test_pages_run_a_bounded_number_of_queries(app, client, login, plan, build_scenario, make_user,
                                               count_queries, frozen):
    """The same number of queries for the scenario and for the scenario with 12 more units."""
    leader = make_user("leader", username="leader-q")
    s = build_scenario()
    operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.commit()
    login(leader)
    urls = ["/cockpit", "/scores/periods/2024-03", "/scores/map?year=2024",
            f"/scores/periods/2024-03/units/{s.units['A'].id}", "/cockpit/data.json"]
    small = _page_queries(client, count_queries, urls)
    # Add units, assignments, milestones and enterprises, then recompute.
    from taskflow.units.models import Unit
    from taskflow.assignments.models import Assignment, Milestone

    task = s.tasks[1]
    for i in range(12):
        unit = Unit(plan_id=plan.id, name=f"新增镇{i}", kind="town", peer_group="street_town", sort_order=100 + i)
        db.session.add(unit)
        db.session.flush()
        assignment = Assignment(task_id=task.id, unit_id=unit.id, role="responsible")
        db.session.add(assignment)
        db.session.flush()
        for day in (5, 15, 25):
            db.session.add(Milestone(assignment_id=assignment.id, title=f"事项{day}",
                                     due_date=date(2024, 3, day), original_due_date=date(2024, 3, day)))
    db.session.commit()
    operations.recompute(plan.id, "2024-03", None, today=TODAY)
    db.session.commit()
    large = _page_queries(client, count_queries, urls)
    assert small == large


def test_a_stale_period_form_is_refused_with_the_conflict_message(client, login, plan, scored):
    """The period's optimistic lock (version_id): a form made from an older version changes
    nothing and tells the user to reload."""
    login(scored.users["supervisor"])
    period = queries.latest_period(plan.id, "2024-03")
    stale = period.version_id - 1
    page = client.post("/scores/periods/2024-03/r1/lock", data={"version": stale, "confirm": "yes"},
                       follow_redirects=True).get_data(as_text=True)
    assert "其他人已修改此内容，请刷新页面后重试。" in page
    db.session.rollback()
    assert period.state == "draft"


@needs_office
def test_the_innovation_report_prints_each_sheet_on_one_landscape_page(client, login, scored,
                                                                        tmp_path):
    login(scored.users["office"])
    response = client.get("/scores/periods/2024-03/innovation-report.xlsx")
    pdf = to_pdf(tmp_path, "innovation.xlsx", response.data)
    info = pdf_info(pdf)
    assert (round(info["width"]), round(info["height"])) == (842, 595)
    # One page per sheet, each one page wide: its first and last header on the same page.
    report, ranking = page_texts(pdf)
    for expected in ("创新报表 2024年03月", "数据截至 2024-03-31", "序号", "同类排名", "A镇", "C镇",
                     "全区合计", "1/3"):
        assert expected in report, expected
    for expected in ("赛马比拼排名 2024年03月", "比拼类别", "名次变化", "区E局", "B镇"):
        assert expected in ranking, expected
