"""The unit directory (seeds/units.toml): lookup, aliases, groups, and its agreement with the plans."""

import dataclasses
from pathlib import Path

import pytest

from taskflow.plans.documents import parse_plan_text
from taskflow.units.directory import DirectoryError, UnknownUnitError, load_directory

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
UNITS = SEEDS / "units.toml"
DISTRICT_TEXT = (SEEDS / "qijiang-work-plan-2023-2027.txt").read_text(encoding="utf-8")
CITY_TEXT = (SEEDS / "chongqing-action-plan-2023-2027.txt").read_text(encoding="utf-8")

PARKS = [
    "高新区管委会", "新城建设管委会", "食品园区管委会", "綦万创新经济走廊指挥部办公室",
    "新型建筑智能建造产业园指挥部办公室",
]
STREETS = ["古南街道", "文龙街道", "三江街道", "新盛街道", "通惠街道"]
TOWNS = [
    "石角镇", "东溪镇", "赶水镇", "打通镇", "石壕镇", "永新镇", "三角镇", "隆盛镇", "郭扶镇",
    "篆塘镇", "丁山镇", "安稳镇", "扶欢镇", "永城镇", "中峰镇", "横山镇",
]
TASK_FORCES = {
    "铝产业链专班": "高新区管委会",
    "装备制造产业链专班": "高新区管委会",
    "化工产业链专班": "高新区管委会",
    "消费品工业产业链专班": "食品园区管委会",
    "信息安全产业链专班": "区大数据局",
    "电子信息新能源汽车产业链专班": "綦万创新经济走廊指挥部办公室",
    "装配式建筑产业链专班": "新型建筑智能建造产业园指挥部办公室",
}


@pytest.fixture(scope="module")
def qijiang():
    return load_directory(UNITS, "qijiang-2023-2027")


@pytest.fixture(scope="module")
def chongqing():
    return load_directory(UNITS, "chongqing-2023-2027")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


# --------------------------------------------------------------------------- lookup


def test_aliases_resolve_to_the_target_table_spelling(qijiang):
    assert qijiang.resolve("区大数据发展局") == "区大数据局"
    assert qijiang.resolve("綦万创新经济走廊建设指挥部办公室") == "綦万创新经济走廊指挥部办公室"
    assert qijiang.resolve("区大数据局") == "区大数据局"
    assert qijiang.resolve(" 区科技局 ") == "区科技局"
    assert qijiang.unit("区大数据发展局").aliases == ("区大数据发展局",)


def test_unknown_unit_is_named(qijiang):
    with pytest.raises(UnknownUnitError) as caught:
        qijiang.resolve("区宇宙局")
    assert "区宇宙局" in str(caught.value)
    assert caught.value.name == "区宇宙局"
    with pytest.raises(UnknownUnitError, match="区宇宙局"):
        qijiang.expand("区宇宙局")


def test_a_group_is_not_a_unit(qijiang):
    with pytest.raises(UnknownUnitError, match="各园城、街镇.*unit group"):
        qijiang.resolve("各园城、街镇")
    assert qijiang.is_group("各园城、街镇")
    assert not qijiang.is_group("区科技局")


# --------------------------------------------------------------------------- groups


def test_parks_and_streets_and_towns(qijiang):
    assert qijiang.expand("各园城、街镇") == PARKS + STREETS + TOWNS
    assert qijiang.expand("各园城") == PARKS
    assert qijiang.expand("各街镇") == STREETS + TOWNS
    assert "区大数据局" not in qijiang.expand("各园城、街镇")  # manages a task force, but a department
    assert qijiang.groups["各园城、街镇"].open is False


def test_task_forces(qijiang):
    assert qijiang.expand("各产业链专班") == list(TASK_FORCES)


def test_related_departments_is_open(qijiang):
    group = qijiang.groups["区级相关部门"]
    assert group.open is True
    members = qijiang.expand("区级相关部门")
    assert len(members) == 22
    for name in ("区卫生健康委", "区公安局", "区交通局", "区税务局", "区委人才办", "区大数据局"):
        assert name in members
    for name in ("人行巴南支行", "古南街道", "高新区管委会", "铝产业链专班"):
        assert name not in members


def test_expand_a_single_unit_or_alias(qijiang):
    assert qijiang.expand("区税务局") == ["区税务局"]
    assert qijiang.expand("区大数据发展局") == ["区大数据局"]


def test_unit_groups_are_listed_on_the_unit(qijiang):
    assert qijiang.unit("古南街道").groups == ("各街镇", "各园城、街镇")
    assert qijiang.unit("高新区管委会").groups == ("各园城", "各园城、街镇")
    assert qijiang.unit("铝产业链专班").groups == ("各产业链专班",)
    assert qijiang.unit("人行巴南支行").groups == ()


# --------------------------------------------------------------------------- units


def test_task_forces_sit_under_their_managing_units(qijiang):
    for name, parent in TASK_FORCES.items():
        unit = qijiang.unit(name)
        assert (unit.kind, unit.peer_group, unit.parent) == ("task_force", "park_task_force", parent)


def test_kinds_and_peer_groups(qijiang):
    kinds = {}
    for unit in qijiang.units:
        kinds.setdefault(unit.kind, []).append(unit.name)
    assert kinds["street"] == STREETS
    assert kinds["town"] == TOWNS
    assert kinds["park_committee"] == ["高新区管委会", "新城建设管委会", "食品园区管委会"]
    assert kinds["command_office"] == ["綦万创新经济走廊指挥部办公室", "新型建筑智能建造产业园指挥部办公室"]
    assert kinds["external"] == ["人行巴南支行"]
    assert len(kinds["department"]) == 22
    assert qijiang.unit("人行巴南支行").peer_group == "external"
    assert qijiang.unit("石角镇").peer_group == "street_town"
    assert qijiang.unit("区委人才办").peer_group == "department"
    assert len(qijiang.units) == 56
    assert [unit.sort_order for unit in qijiang.units] == list(range(56))


def test_every_unit_the_district_plan_names_is_in_the_directory(qijiang):
    plan = parse_plan_text(DISTRICT_TEXT)
    qijiang.check_plan(plan)
    named = {name for task in plan.tasks for name in [*task.lead_units, *task.responsible_units]}
    named |= {row.unit for row in plan.tables[0].rows}
    named |= {row.parent_unit for row in plan.tables[0].rows if row.parent_unit}
    for name in ("区委人才办", "区金融服务中心", "人行巴南支行", "区税务局", "区财政局",
                 "区招商投资局", "区公安局", "区交通局", "区市场监管局", "新城建设管委会"):
        assert name in named
        assert qijiang.expand(name) == [qijiang.resolve(name)]
    # 42 table units + 5 managing units + 13 further names in the parentheticals: 区市场监管局,
    # 区招商投资局, 区公安局, 区财政局, 区税务局, 新城建设管委会, 区金融服务中心, 人行巴南支行,
    # 区委人才办, two aliases (区大数据发展局, 綦万创新经济走廊建设指挥部办公室) and two groups.
    assert len(named) == 60
    units = {qijiang.resolve(name) for name in named if not qijiang.is_group(name)}
    assert units == {unit.name for unit in qijiang.units}


def test_city_directory(chongqing):
    assert len(chongqing.units) == 41
    qijiang = chongqing.unit("綦江区")
    assert (qijiang.kind, qijiang.peer_group, qijiang.links_plan) == ("district", "new_urban", "qijiang-2023-2027")
    assert [u.name for u in chongqing.units if u.kind == "zone"] == ["两江新区", "重庆高新区"]
    assert chongqing.unit("两江新区").peer_group == "central_urban"
    counts = {}
    for unit in chongqing.units:
        counts[unit.peer_group] = counts.get(unit.peer_group, 0) + 1
    assert counts == {"central_urban": 11, "new_urban": 13, "northeast": 11, "southeast": 6}
    assert [u.name for u in chongqing.units if u.links_plan] == ["綦江区"]
    chongqing.check_plan(parse_plan_text(CITY_TEXT))


# --------------------------------------------------------------------------- disagreements


def test_unknown_unit_in_a_task_names_unit_and_line(qijiang):
    plan = parse_plan_text(replace_once(DISTRICT_TEXT, "区经济信息委、区公安局", "区经济信息委、区宇宙局"))
    with pytest.raises(UnknownUnitError) as caught:
        qijiang.check_plan(plan)
    assert str(caught.value) == "unknown unit “区宇宙局” (line 15, task 4)"


def test_unknown_unit_in_the_table_names_unit_and_row(qijiang):
    plan = parse_plan_text(replace_once(DISTRICT_TEXT, "\t区民政局", "\t区民政厅"))
    with pytest.raises(UnknownUnitError) as caught:
        qijiang.check_plan(plan)
    assert "区民政厅" in str(caught.value)
    assert "table row 41" in str(caught.value)


def test_table_parent_that_disagrees_with_the_directory(qijiang):
    plan = parse_plan_text(DISTRICT_TEXT)
    table = plan.tables[0]
    row = dataclasses.replace(table.rows[0], parent_unit="食品园区管委会")
    plan.tables[0] = dataclasses.replace(table, rows=[row, *table.rows[1:]])
    with pytest.raises(DirectoryError, match="puts 铝产业链专班 under 食品园区管委会, the directory under 高新区管委会"):
        qijiang.check_plan(plan)


def test_city_region_that_disagrees_with_the_directory(chongqing):
    plan = parse_plan_text(CITY_TEXT)
    plan.regions["綦江区"] = "中心城区"
    with pytest.raises(DirectoryError, match="綦江区 is under 中心城区"):
        chongqing.check_plan(plan)


# --------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('units = [{ name = "甲", kind = "planet", peer_group = "department" }]', "unknown kind “planet”"),
        ('units = [{ name = "甲", kind = "department", peer_group = "department" },'
         ' { name = "乙", kind = "department", peer_group = "department", aliases = ["甲"] }]',
         "“甲” appears twice"),
        ('units = [{ name = "甲", kind = "task_force", peer_group = "park_task_force", parent = "丙" }]',
         "parent “丙” is not a unit"),
        ('units = [{ name = "甲", kind = "department", peer_group = "department" }]\n'
         'groups = [{ name = "各部门", members = ["甲", "丁"] }]', "“丁” is not a unit"),
        ('units = [{ name = "甲", kind = "department", peer_group = "department" }]\n'
         'groups = [{ name = "A", includes = ["B"] }, { name = "B", includes = ["A"] }]',
         "groups include each other"),
    ],
)
def test_malformed_directory_is_refused(tmp_path, toml, message):
    path = tmp_path / "units.toml"
    path.write_text(f"[demo]\n{toml}\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match=message):
        load_directory(path, "demo")


def test_unknown_plan_code(tmp_path):
    with pytest.raises(DirectoryError, match="no directory for plan nowhere"):
        load_directory(UNITS, "nowhere")
