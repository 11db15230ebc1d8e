"""The plan importer against the database: content, idempotence, atomicity, refusals, .docx."""

import json

import pytest
from sqlalchemy import func, select

from taskflow.assignments.models import Assignment
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db
from taskflow.plans.docx_export import write_plan_docx
from taskflow.plans.models import KeyTask, Plan, PlanGoal, Section, Target
from taskflow.units.models import Unit, UnitAlias, UnitGroup

DISTRICT = "qijiang-work-plan-2023-2027.txt"
CITY = "chongqing-action-plan-2023-2027.txt"
TABLES = (Plan, Section, KeyTask, PlanGoal, Target, Unit, UnitAlias, UnitGroup, Assignment, AuditEvent)


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
