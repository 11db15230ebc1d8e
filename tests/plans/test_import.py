"""The plan importer against the database: content, idempotence, atomicity, refusals, .docx."""

import json

import pytest
from sqlalchemy import func, select

from taskflow.assignments.models import Assignment
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db
from taskflow.plans.docx_export import write_plan_docx
from taskflow.plans.models import KeyTask, NotApplicableTarget, Plan, PlanGoal, Section, Target
from taskflow.units.models import Unit, UnitAlias, UnitGroup

DISTRICT = "qijiang-work-plan-2023-2027.txt"
CITY = "chongqing-action-plan-2023-2027.txt"
TABLES = (Plan, Section, KeyTask, PlanGoal, Target, NotApplicableTarget, Unit, UnitAlias, UnitGroup,
          Assignment, AuditEvent)


def row_counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in TABLES}


def run_import(runner, path):
    return runner.invoke(args=["plan", "import", str(path)])


def show_json(runner) -> dict:
    result = runner.invoke(args=["plan", "show", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def task_units(data, plan_code, number):
    plan = next(p for p in data["plans"] if p["code"] == plan_code)
    task = next(t for s in plan["sections"] for t in s["tasks"] if t["number"] == number)
    return task


def test_import_both_documents_and_show_json(runner, seeds_dir):
    assert run_import(runner, seeds_dir / CITY).exit_code == 0
    result = run_import(runner, seeds_dir / DISTRICT)
    assert result.exit_code == 0, result.output
    data = show_json(runner)
    district = next(p for p in data["plans"] if p["code"] == "qijiang-2023-2027")
    city = next(p for p in data["plans"] if p["code"] == "chongqing-2023-2027")

    assert district["parent"] == city["title"]
    assert district["parent_unit"] == "綦江区"
    assert [s["number"] for s in district["sections"]] == [1, 2, 3, 4]
    assert [t["number"] for s in district["sections"] for t in s["tasks"]] == list(range(1, 14))
    assert [t["number"] for s in city["sections"] for t in s["tasks"]] == list(range(1, 16))

    # Task 8 names its units one by one: exactly as written, aliases resolved.
    task8 = task_units(data, "qijiang-2023-2027", 8)
    assert task8["lead_units"] == ["区科技局", "区经济信息委"]
    assert task8["responsible_units"] == [
        "区大数据局", "高新区管委会", "新型建筑智能建造产业园指挥部办公室",
        "三江街道", "石角镇", "赶水镇", "打通镇", "安稳镇", "扶欢镇",
    ]
    # Task 12: two departments, nothing collective.
    task12 = task_units(data, "qijiang-2023-2027", 12)
    assert task12["lead_units"] == ["区科技局"] and task12["responsible_units"] == ["区财政局", "区税务局"]
    # Task 7: the corridor office spelled with 建设 resolves to the table's spelling; task forces expand.
    task7 = task_units(data, "qijiang-2023-2027", 7)
    assert task7["responsible_units"][:3] == ["高新区管委会", "新城建设管委会", "綦万创新经济走廊指挥部办公室"]
    assert len([u for u in task7["responsible_units"] if u.endswith("产业链专班")]) == 7
    # Task 2: 各园城、街镇 expands to the 5 park units and the 21 streets and towns.
    task2 = task_units(data, "qijiang-2023-2027", 2)
    assert len(task2["responsible_units"]) == 1 + 5 + 21
    assert "古南街道" in task2["responsible_units"] and "横山镇" in task2["responsible_units"]
    # Task 13 ends with …等区级相关部门: named departments kept, list open.
    task13 = task_units(data, "qijiang-2023-2027", 13)
    assert task13["lead_units"] == ["区委人才办"]
    assert task13["responsible_units"] == ["区教委", "区科技局", "区经济信息委", "区人力社保局", "区卫生健康委"]
    assert task13["units_open"] is True
    assert task_units(data, "qijiang-2023-2027", 12)["units_open"] is False

    def target(plan, unit, indicator, year, kind):
        values = [t["value"] for t in plan["targets"] if (t["unit"], t["indicator"], t["year"], t["kind"])
                  == (unit, indicator, year, kind)]
        assert len(values) == 1, (unit, indicator, year, kind)
        return values[0]

    # Row by row spot checks against the document, and the 合计 row.
    assert target(district, "古南街道", "tech_based", 2023, "in_library") == 276
    assert target(district, "装备制造产业链专班", "high_tech", 2023, "re_review") == 24
    # '-' means not applicable: no target at all, and the cell is recorded as such.
    assert not [t for t in district["targets"]
                if (t["unit"], t["indicator"], t["year"]) == ("化工产业链专班", "tech_based", 2022)]
    assert {"unit": "化工产业链专班", "indicator": "tech_based", "year": 2022,
            "kind": "in_library"} in district["not_applicable"]
    assert target(district, None, "tech_based", 2023, "in_library") == 2426
    assert target(district, None, "high_tech", 2027, "in_library") == 300
    unit_values = [t for t in district["targets"] if t["unit"] is not None]
    assert len(unit_values) + len(district["not_applicable"]) == 42 * 10
    assert all(t["value"] > 0 for t in unit_values)  # the document writes no 0, only "-"
    assert target(city, "綦江区", "tech_based", 2023, "in_library") == 2260
    assert target(city, "綦江区", "high_tech", 2025, "in_library") == 240
    assert target(city, None, "tech_based", 2027, "in_library") == 86030
    assert len({t["unit"] for t in city["targets"] if t["unit"]}) == 41

    goals = {(g["indicator"], g["year"]): (g["comparator"], g["value"]) for g in district["goals"]
             if g["indicator"]}
    assert goals[("high_tech", 2023)] == (">=", 200)
    assert goals[("tech_based", 2027)] == (">=", 3900)
    assert goals[("specialised_sme", 2027)] == (">", 100)


def test_one_assignment_per_task_unit_role(app, imported_plans):
    duplicates = db.session.execute(
        select(Assignment.task_id, Assignment.unit_id, Assignment.role, func.count())
        .group_by(Assignment.task_id, Assignment.unit_id, Assignment.role).having(func.count() > 1)
    ).all()
    assert duplicates == []
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 289


def test_task_forces_sit_under_their_managing_unit(app, imported_plans):
    unit = db.session.scalar(select(Unit).where(Unit.name == "化工产业链专班"))
    assert unit.parent.name == "高新区管委会"
    assert db.session.scalar(select(Unit).where(Unit.name == "信息安全产业链专班")).parent.name == "区大数据局"


def test_importing_again_changes_nothing(runner, seeds_dir):
    run_import(runner, seeds_dir / CITY)
    run_import(runner, seeds_dir / DISTRICT)
    before = row_counts()
    first = show_json(runner)
    for name in (DISTRICT, CITY):
        result = run_import(runner, seeds_dir / name)
        assert result.exit_code == 0 and "unchanged" in result.output
    assert row_counts() == before
    assert show_json(runner) == first


def test_district_before_city_links_the_same_way(runner, seeds_dir):
    run_import(runner, seeds_dir / DISTRICT)
    run_import(runner, seeds_dir / CITY)
    district = next(p for p in show_json(runner)["plans"] if p["code"] == "qijiang-2023-2027")
    assert district["parent_unit"] == "綦江区"


def _edited(tmp_path, seeds_dir, old, new, count=1):
    text = (seeds_dir / DISTRICT).read_text(encoding="utf-8")
    assert text.count(old) >= count
    path = tmp_path / "edited.txt"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "old, new, expected",
    [
        # 古南街道's 2023 tech-based figure: the column no longer adds up to 2426.
        ("\t246\n\t276\n", "\t246\n\t277\n", "科技型企业2023年"),
        # An unknown unit in a task line is named.
        ("责任单位：区财政局、区税务局）", "责任单位：区财政局、区宇宙局）", "区宇宙局"),
        # A broken task line: the 牵头单位 label is gone.
        ("（牵头单位：区委人才办；", "（区委人才办；", "line"),
    ],
)
def test_refused_document_writes_nothing(runner, seeds_dir, tmp_path, old, new, expected):
    before = row_counts()
    result = run_import(runner, _edited(tmp_path, seeds_dir, old, new))
    assert result.exit_code == 1
    assert expected in result.output
    assert row_counts() == before


def test_refused_reimport_leaves_the_earlier_import_untouched(runner, seeds_dir, tmp_path):
    run_import(runner, seeds_dir / DISTRICT)
    before = row_counts()
    snapshot = show_json(runner)
    result = run_import(runner, _edited(tmp_path, seeds_dir, "\t436\n\t486\n", "\t436\n\t487\n"))
    assert result.exit_code == 1
    assert "文龙街道" in result.output or "科技型企业2023年" in result.output
    assert row_counts() == before
    assert show_json(runner) == snapshot


def test_a_changed_figure_is_updated_on_reimport_when_the_rules_still_hold(runner, seeds_dir, tmp_path):
    run_import(runner, seeds_dir / DISTRICT)
    # 2027 figures have no row rule; change 古南街道 and the 合计 together so the column still adds up.
    text = (seeds_dir / DISTRICT).read_text(encoding="utf-8")
    text = text.replace("\t246\n\t276\n\t370\n", "\t246\n\t276\n\t371\n", 1)
    text = text.replace("\t1976\n\t2426\n\t3900\n", "\t1976\n\t2426\n\t3901\n", 1)
    path = tmp_path / "revised.txt"
    path.write_text(text, encoding="utf-8")
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "target updated 2" in result.output


def test_docx_import_matches_text_import(runner, seeds_dir, tmp_path):
    docx = tmp_path / "qijiang.docx"
    write_plan_docx(seeds_dir / DISTRICT, docx)
    result = run_import(runner, docx)
    assert result.exit_code == 0, result.output
    from_docx = show_json(runner)
    # Importing the text afterwards finds nothing to change but the source file name.
    result = run_import(runner, seeds_dir / DISTRICT)
    assert result.exit_code == 0
    assert show_json(runner)["plans"][0]["sections"] == from_docx["plans"][0]["sections"]
    assert show_json(runner)["plans"][0]["targets"] == from_docx["plans"][0]["targets"]


def test_missing_and_non_utf8_files_are_refused(runner, tmp_path):
    assert run_import(runner, tmp_path / "nope.txt").exit_code == 1
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("綦江区".encode("gb18030"))
    result = run_import(runner, bad)
    assert result.exit_code == 1 and "UTF-8" in result.output


def test_show_prints_a_readable_tree(runner, seeds_dir):
    run_import(runner, seeds_dir / DISTRICT)
    result = runner.invoke(args=["plan", "show"])
    assert "1. 引进创立科技型企业" in result.output
    assert "牵头: 区招商投资局" in result.output


# --------------------------------------------------------------------------- "-" cells, goals, titles


def test_dash_cells_are_not_applicable_and_the_totals_still_hold(app, imported_plans):
    from taskflow.plans.queries import not_applicable_cells, target_table

    plan = imported_plans
    chem = db.session.scalar(select(Unit).where(Unit.name == "化工产业链专班"))
    assert db.session.scalar(select(func.count()).select_from(Target).where(Target.value == 0)) == 0
    assert (chem.id, "tech_based", 2022, "in_library") in not_applicable_cells(plan.id)
    assert (chem.id, "tech_based", 2023, "in_library") not in not_applicable_cells(plan.id)
    marked = db.session.scalar(select(func.count()).select_from(NotApplicableTarget)
                               .where(NotApplicableTarget.plan_id == plan.id))
    targets = db.session.scalar(select(func.count()).select_from(Target)
                                .where(Target.plan_id == plan.id, Target.unit_id.is_not(None)))
    assert marked + targets == 42 * 10 and marked > 0
    table = target_table(plan)
    assert table.total_mismatches() == []
    assert table.computed_total[("tech_based", 2023, "in_library")] == 2426


def _import_as_the_old_importer_did(runner, seeds_dir):
    """The district plan as an import before this change left it: every "-" stored as a 0 target."""
    run_import(runner, seeds_dir / DISTRICT)
    for marker in db.session.scalars(select(NotApplicableTarget)).all():
        db.session.add(Target(plan_id=marker.plan_id, unit_id=marker.unit_id,
                              indicator_id=marker.indicator_id, year=marker.year, kind=marker.kind,
                              value=0, source_row=marker.source_row))
        db.session.delete(marker)
    db.session.commit()


def test_reimport_over_an_older_import_turns_its_zeros_into_not_applicable(runner, seeds_dir, tmp_path):
    run_import(runner, seeds_dir / DISTRICT)
    fresh = show_json(runner)
    db.session.remove()
    # Start again from an old-style import.
    for model in (Target, NotApplicableTarget):
        db.session.execute(model.__table__.delete())
    db.session.commit()
    _import_as_the_old_importer_did(runner, seeds_dir)
    zeros = db.session.scalar(select(func.count()).select_from(Target).where(Target.value == 0))
    assert zeros == len(fresh["plans"][0]["not_applicable"]) > 0
    result = run_import(runner, seeds_dir / DISTRICT)
    assert result.exit_code == 0, result.output
    assert f"target removed {zeros}" in result.output
    assert f"not-applicable cell added {zeros}" in result.output
    assert db.session.scalar(select(func.count()).select_from(Target).where(Target.value == 0)) == 0
    assert show_json(runner) == fresh


def test_new_goals_are_imported_with_the_documents_words_and_numbers(runner, seeds_dir):
    run_import(runner, seeds_dir / CITY)
    run_import(runner, seeds_dir / DISTRICT)
    data = show_json(runner)
    district = next(p for p in data["plans"] if p["code"] == "qijiang-2023-2027")
    city = next(p for p in data["plans"] if p["code"] == "chongqing-2023-2027")

    def goal(plan, text):
        (found,) = [g for g in plan["goals"] if g["text"] == text]
        return {k: found[k] for k in ("year", "scope", "metric", "comparator", "value", "unit", "task")}

    assert goal(district, "成功创建国家高新区") == {
        "year": 2027, "scope": "", "metric": "创建国家高新区", "comparator": "", "value": None,
        "unit": "", "task": None}
    assert goal(district, "力争2027年全区孵化载体面积超过40万平方米") == {
        "year": 2027, "scope": "全区", "metric": "孵化载体面积", "comparator": ">", "value": 40,
        "unit": "万平方米", "task": 9}
    assert goal(city, "中心城区高新技术企业、科技型企业数量占全市总量的55%")["value"] == 55
    assert goal(city, "主城新区占全市总量的35%") == {
        "year": 2027, "scope": "主城新区", "metric": "高新技术企业、科技型企业数量占全市总量",
        "comparator": "=", "value": 35, "unit": "%", "task": None}
    assert goal(city, "渝东北三峡库区城镇群和渝东南武陵山区城镇群占全市总量的10%")["value"] == 10
    assert goal(city, "依托企业重组新建各类科技创新平台1000个以上") == {
        "year": 2027, "scope": "", "metric": "依托企业重组新建各类科技创新平台", "comparator": ">=",
        "value": 1000, "unit": "个", "task": 5}
    assert goal(city, "全市企业研发经费投入达到1000亿元") == {
        "year": 2027, "scope": "全市", "metric": "企业研发经费投入", "comparator": ">=",
        "value": 1000, "unit": "亿元", "task": 6}
    (every_year,) = [g for g in city["goals"] if g["text"] == "每年上市企业超过10家"]
    assert (every_year["year"], every_year["every_year"], every_year["value"]) == (None, True, 10)
    assert goal(city, "支持1000家高新技术企业和科技型企业发展壮大") == {
        "year": None, "scope": "", "metric": "支持高新技术企业和科技型企业发展壮大", "comparator": "=",
        "value": 1000, "unit": "家", "task": 4}
    assert len(district["goals"]) == 11 and len(city["goals"]) == 21


def test_a_changed_goal_is_updated_in_place_on_reimport(runner, seeds_dir, tmp_path):
    run_import(runner, seeds_dir / DISTRICT)
    before = row_counts()
    result = run_import(runner, _edited(tmp_path, seeds_dir, "孵化载体面积超过40万平方米", "孵化载体面积超过45万平方米"))
    assert result.exit_code == 0, result.output
    assert "goal updated 1" in result.output
    assert row_counts()["plan_goals"] == before["plan_goals"]
    (goal,) = [g for g in show_json(runner)["plans"][0]["goals"] if g["metric"] == "孵化载体面积"]
    assert (goal["value"], goal["text"]) == (45, "力争2027年全区孵化载体面积超过45万平方米")


def test_the_title_keeps_its_version_note_and_a_later_version_updates_the_same_plan(
        runner, seeds_dir, tmp_path):
    run_import(runner, seeds_dir / CITY)
    run_import(runner, seeds_dir / DISTRICT)
    titles = {p["code"]: p["title"] for p in show_json(runner)["plans"]}
    assert titles["qijiang-2023-2027"].endswith("行动工作方案（2023—2027年）（送审稿）")
    assert titles["chongqing-2023-2027"].endswith("行动计划（2023—2027年）（征求意见稿）")
    # The final text, without the note, is the same plan.
    result = run_import(runner, _edited(tmp_path, seeds_dir, "（送审稿）\n", ""))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("qijiang-2023-2027: imported; ")
    plans = show_json(runner)["plans"]
    assert len(plans) == 2
    district = next(p for p in plans if p["code"] == "qijiang-2023-2027")
    assert district["title"].endswith("行动工作方案（2023—2027年）")
    assert district["parent"] == titles["chongqing-2023-2027"]


# --------------------------------------------------------------------------- header split in Word

# Word tables built here with python-docx: (grid column, columns spanned, rows spanned, text).
HEADER_THREE_ROWS = [
    [(0, 1, 3, "序号"), (1, 2, 3, "单位"), (3, 3, 1, "科技型企业\n（在库数量）"), (6, 7, 1, "高新技术企业")],
    [(3, 1, 2, "2022年"), (4, 1, 2, "2023年"), (5, 1, 2, "2027年"), (6, 1, 2, "2022年\n在库量"),
     (7, 5, 1, "2023年"), (12, 1, 2, "2027年\n在库量")],
    [(7, 1, 1, "在库量"), (8, 1, 1, "复审"), (9, 1, 1, "新增"), (10, 1, 1, "培育"), (11, 1, 1, "招引")],
]
HEADER_TWO_ROWS = [
    [(0, 1, 2, "序号"), (1, 2, 2, "单位"), (3, 3, 1, "科技型企业\n（在库数量）"), (6, 7, 1, "高新技术企业")],
    [(3, 1, 1, "2022年"), (4, 1, 1, "2023年"), (5, 1, 1, "2027年"), (6, 1, 1, "2022年\n在库量"),
     (7, 1, 1, "2023年\n在库量"), (8, 1, 1, "2023年\n复审"), (9, 1, 1, "2023年\n新增"),
     (10, 1, 1, "2023年\n培育"), (11, 1, 1, "2023年\n招引"), (12, 1, 1, "2027年\n在库量")],
]


def build_district_docx(path, seeds_dir, header):
    """The district plan as a .docx whose attachment table has the given header."""
    import docx

    from taskflow.plans.documents import _group_tab_rows

    lines = (seeds_dir / DISTRICT).read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("\t"))
    rows, end = _group_tab_rows(lines, start)
    body = [[text for _, text in row] for row in rows if row[0][1].strip() not in ("序号", "")]
    document = docx.Document()
    for line in lines[:start]:
        document.add_paragraph(line)
    table = document.add_table(rows=len(header) + len(body), cols=13)
    grid = [list(row.cells) for row in table.rows]
    for r, cells in enumerate(header):
        for col, colspan, rowspan, text in cells:
            cell = grid[r][col]
            if colspan > 1 or rowspan > 1:
                cell = cell.merge(grid[r + rowspan - 1][col + colspan - 1])
            cell.text = text
    managing_top = None
    for i, texts in enumerate(body):
        r = len(header) + i
        names, values = texts[:-10], texts[-10:]
        if len(names) == 1:  # 合计 over 序号 and both unit columns
            grid[r][0].merge(grid[r][2]).text = names[0]
        elif len(names) == 2:
            grid[r][0].text = names[0]
            grid[r][1].merge(grid[r][2]).text = names[1]
        else:
            grid[r][0].text = names[0]
            if names[1].strip():
                managing_top = r
                grid[r][1].text = names[1]
            else:
                grid[managing_top][1].merge(grid[r][1])
            grid[r][2].text = names[2]
        for offset, text in enumerate(values):
            grid[r][3 + offset].text = text
    for line in lines[end:]:
        document.add_paragraph(line)
    document.save(str(path))
    return path


def test_a_word_header_in_two_rows_imports_exactly_the_targets_of_three_rows(runner, seeds_dir, tmp_path):
    import docx

    three = build_district_docx(tmp_path / "three.docx", seeds_dir, HEADER_THREE_ROWS)
    two = build_district_docx(tmp_path / "two.docx", seeds_dir, HEADER_TWO_ROWS)
    assert len(docx.Document(str(three)).tables[0].rows) == 3 + 43
    assert len(docx.Document(str(two)).tables[0].rows) == 2 + 43

    result = run_import(runner, three)
    assert result.exit_code == 0, result.output
    from_three = show_json(runner)["plans"][0]
    result = run_import(runner, two)
    assert result.exit_code == 0, result.output
    assert "target" not in result.output and "not-applicable" not in result.output  # only the source
    from_two = show_json(runner)["plans"][0]
    assert from_two["targets"] == from_three["targets"]
    assert from_two["not_applicable"] == from_three["not_applicable"]
    assert len(from_three["targets"]) + len(from_three["not_applicable"]) == 43 * 10
    # And both equal the text import.
    run_import(runner, seeds_dir / DISTRICT)
    assert show_json(runner)["plans"][0]["targets"] == from_three["targets"]
