"""The plan document parsers: district work plan, city action plan, the .docx path, validation."""

from decimal import Decimal
from pathlib import Path

import docx
import pytest

from taskflow.plans.docx_export import write_plan_docx
from taskflow.plans.documents import (
    DISTRICT_COLUMNS,
    INDICATORS,
    PlanDocumentError,
    parse_plan_docx,
    parse_plan_text,
    title_without_note,
    validate,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DISTRICT_PATH = SEEDS / "qijiang-work-plan-2023-2027.txt"
CITY_PATH = SEEDS / "chongqing-action-plan-2023-2027.txt"
DISTRICT_TEXT = DISTRICT_PATH.read_text(encoding="utf-8")
CITY_TEXT = CITY_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def district():
    return parse_plan_text(DISTRICT_TEXT)


@pytest.fixture(scope="module")
def city():
    return parse_plan_text(CITY_TEXT)


def edit_line(text: str, number: int, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` on line ``number`` (1-based), insisting that ``old`` is there."""
    lines = text.split("\n")
    assert old in lines[number - 1], (number, lines[number - 1])
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    return "\n".join(lines)


def district_cell_line(plan, row_number: int, column: str) -> int:
    """Line of a value cell in a one-unit-column row (rows 8–42): 序号, 单位, then the ten numbers."""
    row = next(r for r in plan.tables[0].rows if r.number == row_number)
    labels = [label for _, label in DISTRICT_COLUMNS]
    return row.line + 2 + labels.index(column)


# --------------------------------------------------------------------------- district: header, goals


def test_district_title_level_and_period(district):
    assert district.level == "district"
    # The version note under the title stays part of it.
    assert district.title == "重庆市綦江区高新技术企业、科技型企业“双倍增”行动工作方案（2023—2027年）（送审稿）"
    assert title_without_note(district.title) == (
        "重庆市綦江区高新技术企业、科技型企业“双倍增”行动工作方案（2023—2027年）")
    assert (district.start_year, district.end_year) == (2023, 2027)
    assert district.regions == {}


def test_district_goals(district):
    goals = [(g.indicator, g.year, g.comparator, g.value) for g in district.goals if g.indicator]
    assert goals == [
        ("high_tech", 2023, ">=", Decimal("200")),
        ("tech_based", 2023, ">=", Decimal("2400")),
        ("high_tech", 2027, ">=", Decimal("300")),
        ("tech_based", 2027, ">=", Decimal("3900")),
        ("specialised_sme", 2027, ">", Decimal("100")),  # 突破 → strictly more
        ("rd_ratio", 2027, ">=", Decimal("2.5")),
        ("emerging_industry_share", 2027, ">", Decimal("25")),  # 超过
        ("high_tech_manufacturing_share", 2027, ">=", Decimal("8")),  # 提高到
        ("invention_patents_per_10k", 2027, ">=", Decimal("6.1")),  # from task 6: 达6.1件
    ]
    assert district.goals[0].text == "全区有效期内高新技术企业达到200家以上"
    assert district.goals[5].text == "规上工业企业研发费支出占规上工业企业营业收入比重达到2.5%"


def test_goal_indicators_are_declared(district, city):
    for goal in [*district.goals, *city.goals]:
        assert goal.indicator is None or goal.indicator in INDICATORS
    assert INDICATORS["rd_ratio"] == ("规上工业企业研发费支出占营业收入比重", "percent")
    assert INDICATORS["high_tech"][1] == "count"
    assert {measure for _, measure in INDICATORS.values()} == {"count", "percent", "ratio"}


# --------------------------------------------------------------------------- district: tasks

DISTRICT_SECTIONS = [
    (1, "广泛培育发展科技型企业", [1, 2, 3]),
    (2, "大力引育高新技术企业", [4, 5, 6]),
    (3, "升级打造创新创业发展集聚区", [7, 8, 9]),
    (4, "持续迭代优化创新生态", [10, 11, 12, 13]),
]

# number: (line, title, lead units, responsible units) — copied by hand from the document.
DISTRICT_TASKS = {
    1: (11, "引进创立科技型企业", ["区科技局"],
        ["区教委", "区经济信息委", "区大数据发展局", "区市场监管局", "各产业链专班", "各园城、街镇"]),
    2: (12, "培育发展科技型企业", ["区科技局"], ["区经济信息委", "各园城、街镇"]),
    3: (13, "提升科技企业创新能力", ["区科技局"], ["区经济信息委", "各园城、街镇"]),
    4: (15, "积极招引高新技术企业", ["区招商投资局"],
        ["区发展改革委", "区教委", "区科技局", "区经济信息委", "区公安局", "区住房城乡建委",
         "区交通局", "区农业农村委", "区卫生健康委", "各产业链专班", "各园城、街镇"]),
    5: (16, "精准培育高新技术企业", ["区科技局"],
        ["区经济信息委", "区财政局", "区税务局", "各园城、街镇"]),
    6: (17, "推动高新技术企业提质增效", ["区经济信息委", "区市场监管局"],
        ["区发展改革委", "区科技局", "各园城、街镇"]),
    7: (19, "创建国家高新技术产业开发区", ["区科技局"],
        ["高新区管委会", "新城建设管委会", "綦万创新经济走廊建设指挥部办公室", "各产业链专班"]),
    8: (20, "做优中小企业创新创业基地", ["区科技局", "区经济信息委"],
        ["区大数据发展局", "高新区管委会", "新型建筑智能建造产业园指挥部办公室",
         "三江街道", "石角镇", "赶水镇", "打通镇", "安稳镇", "扶欢镇"]),
    9: (21, "建设科技型企业孵化载体群", ["区科技局"], ["区教委", "区大数据发展局", "各园城、街镇"]),
    10: (23, "推动科技服务业高质量发展", ["区科技局"], ["区发展改革委", "区经济信息委"]),
    11: (24, "提供健康有序科技金融服务", ["区科技局", "区金融服务中心"], ["人行巴南支行", "各园城、街镇"]),
    12: (25, "落实科技企业发展普惠政策", ["区科技局"], ["区财政局", "区税务局"]),
    13: (26, "促进高端人才向科技企业集聚", ["区委人才办"],
         ["区教委", "区科技局", "区经济信息委", "区人力社保局", "区卫生健康委"]),
}


def test_district_sections(district):
    assert [(s.number, s.title, [t.number for t in s.tasks]) for s in district.sections] == DISTRICT_SECTIONS


@pytest.mark.parametrize("number", sorted(DISTRICT_TASKS))
def test_district_task_units_exactly_as_written(district, number):
    line, title, leads, responsible = DISTRICT_TASKS[number]
    task = district.tasks[number - 1]
    assert task.number == number
    assert task.line == line
    assert task.title == title
    assert task.lead_units == leads
    assert task.responsible_units == responsible
    assert task.units_open is (number in (4, 13))


def test_district_task_text_and_parenthetical(district):
    task = district.tasks[12]
    assert task.units_text == (
        "（牵头单位：区委人才办；责任单位：区教委、区科技局、区经济信息委、区人力社保局、"
        "区卫生健康委等区级相关部门）"
    )
    assert task.body.startswith("促进高端人才向科技企业集聚。专项开展区政府—在渝高校—属地企业")
    assert task.body.endswith("营造良好的“近悦远来”创新环境。")
    assert "牵头单位" not in task.body
    # A parenthesis inside the body is not the unit parenthetical.
    assert "研发能力强的企业（院所）建设中试熟化" in district.tasks[9].body
    assert district.tasks[9].units_text == "（牵头单位：区科技局；责任单位：区发展改革委、区经济信息委）"


# --------------------------------------------------------------------------- district: table

DISTRICT_TOTALS = [1976, 2426, 3900, 142, 218, 36, 76, 25, 51, 300]


def test_district_table_rows_and_units(district):
    (table,) = district.tables
    assert table.title == "綦江区科技型企业、高新技术企业培育、招引目标任务分解表"
    assert [row.number for row in table.rows] == list(range(1, 43))
    assert [(row.unit, row.parent_unit) for row in table.rows[:7]] == [
        ("铝产业链专班", "高新区管委会"),
        ("装备制造产业链专班", "高新区管委会"),  # merged cell carried down
        ("化工产业链专班", "高新区管委会"),
        ("消费品工业产业链专班", "食品园区管委会"),
        ("信息安全产业链专班", "区大数据局"),
        ("电子信息新能源汽车产业链专班", "綦万创新经济走廊指挥部办公室"),
        ("装配式建筑产业链专班", "新型建筑智能建造产业园指挥部办公室"),
    ]
    assert (table.rows[7].unit, table.rows[7].parent_unit, table.rows[7].line) == ("古南街道", None, 169)
    assert table.rows[27].unit == "横山镇"
    assert table.rows[28].unit == "区发展改革委"
    assert table.rows[41].unit == "区交通局"


def test_district_row_values(district):
    rows = {row.number: row for row in district.tables[0].rows}
    assert list(rows[2].values.values()) == [257, 280, 325, 70, 84, 24, 14, 9, 5, 100]
    assert rows[2].values[("high_tech", 2023, "re_review")] == 24
    # "-" is not applicable: no figure, not a zero.
    assert list(rows[23].values.values()) == [17, 27, 80, None, None, None, None, None, None, 1]
    assert rows[31].unit == "区科技局"
    assert rows[31].values == {
        ("tech_based", 2022, "in_library"): None,
        ("tech_based", 2023, "in_library"): 5,
        ("tech_based", 2027, "in_library"): 21,
        ("high_tech", 2022, "in_library"): None,
        ("high_tech", 2023, "in_library"): 3,
        ("high_tech", 2023, "re_review"): None,
        ("high_tech", 2023, "new"): 3,
        ("high_tech", 2023, "cultivated"): None,
        ("high_tech", 2023, "attracted"): 3,
        ("high_tech", 2027, "in_library"): 5,
    }


def test_district_column_totals(district):
    (table,) = district.tables
    assert table.total.unit == "合计" and table.total.number is None and table.total.line == 624
    assert list(table.total.values.values()) == DISTRICT_TOTALS
    sums = [sum(row.values[key] or 0 for row in table.rows) for key, _ in DISTRICT_COLUMNS]
    assert sums == DISTRICT_TOTALS


def test_district_totals_meet_the_goals(district):
    total = district.tables[0].total.values
    assert total[("high_tech", 2023, "in_library")] >= 200
    assert total[("tech_based", 2023, "in_library")] >= 2400
    assert total[("high_tech", 2027, "in_library")] == 300
    assert total[("tech_based", 2027, "in_library")] == 3900


def test_district_document_is_valid(district):
    validate(district)


def test_repeated_merged_cell_text_reads_the_same(district):
    # Some tools repeat a merged cell's text in every row instead of leaving it empty.
    text = edit_line(DISTRICT_TEXT, 81, "\t", "\t高新区管委会")
    text = edit_line(text, 96, "\t", "\t高新区管委会")
    assert parse_plan_text(text).tables == district.tables


# --------------------------------------------------------------------------- district: refusals


def test_changed_number_names_row_and_column(district):
    line = district_cell_line(district, 12, "高新技术企业2023年新增")
    plan = parse_plan_text(edit_line(DISTRICT_TEXT, line, "\t2", "\t3"))
    with pytest.raises(PlanDocumentError) as caught:
        validate(plan)
    message = str(caught.value)
    assert "table row 12 (通惠街道)" in message
    assert "column 高新技术企业2023年新增" in message
    assert "培育 1 + 招引 1 = 2, but 新增 is 3" in message
    assert caught.value.row == 12 and caught.value.column == "高新技术企业2023年新增"


def test_changed_stock_breaks_second_rule(district):
    line = district_cell_line(district, 10, "高新技术企业2023年在库量")
    plan = parse_plan_text(edit_line(DISTRICT_TEXT, line, "\t17", "\t16"))
    with pytest.raises(PlanDocumentError) as caught:
        validate(plan)
    message = str(caught.value)
    assert "table row 10 (三江街道)" in message
    assert "column 高新技术企业2023年在库量" in message
    assert "新增 2 + 2022年在库量 15 = 17, but 2023年在库量 is 16" in message


def test_non_numeric_cell_names_row_and_column(district):
    line = district_cell_line(district, 30, "科技型企业2023年")
    with pytest.raises(PlanDocumentError) as caught:
        parse_plan_text(edit_line(DISTRICT_TEXT, line, "\t3", "\t三"))
    message = str(caught.value)
    assert "table row 30 (区教委)" in message
    assert "column 科技型企业2023年" in message
    assert "“三” is not a number" in message
    assert f"line {line}" in message


def test_column_that_does_not_add_up(district):
    line = district_cell_line(district, 20, "科技型企业2027年")
    plan = parse_plan_text(edit_line(DISTRICT_TEXT, line, "\t100", "\t101"))
    with pytest.raises(PlanDocumentError) as caught:
        validate(plan)
    message = str(caught.value)
    assert "column 科技型企业2027年" in message
    assert "add up to 3901, but the 合计 row says 3900" in message
    assert "line 624" in message


def test_total_row_that_does_not_match(district):
    plan = parse_plan_text(edit_line(DISTRICT_TEXT, 626, "\t2426", "\t2425"))
    with pytest.raises(PlanDocumentError) as caught:
        validate(plan)
    assert "column 科技型企业2023年: " in str(caught.value)
    assert "add up to 2426, but the 合计 row says 2425" in str(caught.value)


def test_missing_row_is_refused():
    lines = DISTRICT_TEXT.split("\n")
    assert lines[610] == "\t42" and lines[611] == "\t区交通局"
    del lines[610:623]  # row 42 and its closing blank line
    plan = parse_plan_text("\n".join(lines))
    with pytest.raises(PlanDocumentError, match="41 numbered rows; expected 42"):
        validate(plan)


def test_missing_lead_units_names_the_line():
    text = edit_line(DISTRICT_TEXT, 16, "（牵头单位：区科技局；责任单位：", "（责任单位：")
    with pytest.raises(PlanDocumentError) as caught:
        parse_plan_text(text)
    assert str(caught.value).startswith("line 16: ")
    assert "牵头单位" in str(caught.value)


def test_unclosed_parenthesis_names_the_line():
    text = edit_line(DISTRICT_TEXT, 25, "区财政局、区税务局）", "区财政局、区税务局")
    with pytest.raises(PlanDocumentError, match=r"^line 25: unbalanced parentheses"):
        parse_plan_text(text)


def test_unopened_parenthesis_names_the_line():
    text = edit_line(DISTRICT_TEXT, 23, "（牵头单位：区科技局", "牵头单位：区科技局")
    with pytest.raises(PlanDocumentError, match=r"^line 23: unbalanced parentheses"):
        parse_plan_text(text)


def test_empty_unit_name_names_the_line():
    text = edit_line(DISTRICT_TEXT, 25, "区财政局、区税务局", "区财政局、、区税务局")
    with pytest.raises(PlanDocumentError, match=r"^line 25: empty unit name in the 责任单位 list"):
        parse_plan_text(text)


def test_task_numbering_gap_names_the_line():
    plan = parse_plan_text(edit_line(DISTRICT_TEXT, 19, "7.创建", "8.创建"))
    with pytest.raises(PlanDocumentError, match=r"^line 19: task 8 where task 7 was expected"):
        validate(plan)


def test_task_goal_contradicting_the_goals_names_the_line():
    text = edit_line(DISTRICT_TEXT, 17, "专精特新企业突破100家", "专精特新企业突破120家")
    with pytest.raises(PlanDocumentError) as caught:
        parse_plan_text(text)
    assert str(caught.value) == (
        "line 17: “全区专精特新企业突破120家” contradicts the goal “专精特新企业突破100家”"
    )


# --------------------------------------------------------------------------- city plan

CITY_TITLES = [
    "大力孵化科技型企业", "加快培育高新技术企业", "积极引进高新技术企业和科技型企业",
    "着力壮大创新型领军企业", "大力支持企业建设创新平台", "积极鼓励企业开展研发活动",
    "持续提升产业协同发展水平", "加快建设科创核心承载区", "切实增强各类园区主阵地功能",
    "着力提升高校院所创新创业效能", "发展壮大科技企业孵化载体", "充分释放发展活力",
    "大力提升科技服务能级", "加快促进科技成果转化", "着力强化知识产权保护",
]


def test_city_title_and_goals(city):
    assert city.level == "city"
    assert city.title == "重庆市高新技术企业和科技型企业“双倍增”行动计划（2023—2027年）（征求意见稿）"
    assert (city.start_year, city.end_year) == (2023, 2027)
    goals = [(g.indicator, g.year, g.comparator, g.value) for g in city.goals if g.indicator]
    assert goals == [
        ("high_tech", 2025, ">", Decimal("10000")),  # 突破1万家
        ("tech_based", 2025, ">", Decimal("66000")),  # 超过6.6万家
        ("high_tech", 2027, ">", Decimal("13000")),  # 分别超过1.3万家、8.6万家
        ("tech_based", 2027, ">", Decimal("86000")),
        ("little_giant", 2027, ">", Decimal("500")),
        ("single_champion", 2027, ">", Decimal("30")),
        ("emerging_industry_share", 2027, ">", Decimal("36")),
        ("high_tech_manufacturing_share", 2027, ">=", Decimal("22")),
        ("high_value_patents_per_10k", 2027, ">=", Decimal("13")),  # task 15
    ]


def test_city_sections_and_tasks(city):
    assert [(s.number, s.title) for s in city.sections] == [
        (1, "着力构建企业梯次引育体系"),
        (2, "加快提升企业技术创新能力"),
        (3, "切实发挥科创载体集聚作用"),
        (4, "积极优化企业成长环境"),
    ]
    assert [len(s.tasks) for s in city.sections] == [4, 3, 4, 4]
    assert [t.number for t in city.tasks] == list(range(1, 16))
    assert [t.title for t in city.tasks] == CITY_TITLES
    assert [t.line for t in city.tasks][:3] == [59, 75, 86]
    assert city.tasks[11].line == 233  # "12." with an ASCII full stop
    for task in city.tasks:
        assert task.lead_units == [] and task.responsible_units == []
        assert task.units_text == "" and task.units_open is False


def test_city_task_bodies_are_rejoined(city):
    task = city.tasks[3]
    assert task.body.startswith("着力壮大创新型领军企业。实施科技型企业提升“十百千”工程")
    assert "每年上市企业超过10家。遴选100家高新技术骨干企业" in task.body
    assert task.body.endswith("制造业单项冠军企业超过30家。")
    assert "对照高新技术企业认定条件" in city.tasks[1].body  # a line that began with a space
    for task in city.tasks:
        assert "\n" not in task.body and " - " not in task.body


def test_city_tables(city):
    high_tech, tech_based = city.tables
    assert high_tech.title == "高新技术企业培育目标任务分解"
    assert tech_based.title == "科技型企业培育目标任务分解"
    for table in city.tables:
        assert len(table.rows) == 41
        assert [r.number for r in table.rows if r.number is not None] == list(range(1, 40))
        assert [r.unit for r in table.rows if r.number is None] == ["两江新区", "重庆高新区"]
    assert list(high_tech.total.values.values()) == [6348, 7623, 10350, 13012]
    assert list(tech_based.total.values.values()) == [42989, 49830, 67050, 86030]
    for table in city.tables:
        keys = [key for key, _ in table.columns]
        assert [sum(r.values[k] for r in table.rows) for k in keys] == list(table.total.values.values())


def test_city_qijiang_row(city):
    high_tech, tech_based = city.tables
    row = next(r for r in high_tech.rows if r.unit == "綦江区")
    assert row.number == 16 and row.line == 458
    assert row.values == {
        ("high_tech", 2022, "in_library"): 142,
        ("high_tech", 2023, "in_library"): 170,
        ("high_tech", 2025, "in_library"): 240,
        ("high_tech", 2027, "in_library"): 300,
    }
    row = next(r for r in tech_based.rows if r.unit == "綦江区")
    assert list(row.values.values()) == [1976, 2260, 3000, 3900]
    assert [key[1] for key in row.values] == [2022, 2023, 2025, 2027]


def test_city_regions(city):
    assert len(city.regions) == 41
    assert city.regions["两江新区"] == "中心城区"
    assert city.regions["重庆高新区"] == "中心城区"
    assert city.regions["巴南区"] == "中心城区"
    assert city.regions["綦江区"] == "主城新区"
    assert city.regions["万盛经开区"] == "主城新区"
    assert city.regions["万州区"] == "渝东北三峡库区城镇群"
    assert city.regions["彭水县"] == "渝东南武陵山区城镇群"
    counts = {}
    for region in city.regions.values():
        counts[region] = counts.get(region, 0) + 1
    assert counts == {"中心城区": 11, "主城新区": 13, "渝东北三峡库区城镇群": 11, "渝东南武陵山区城镇群": 6}


def test_city_document_is_valid(city):
    validate(city)


def test_city_changed_number_names_the_column():
    plan = parse_plan_text(edit_line(CITY_TEXT, 458, "142 170 240 300", "142 171 240 300"))
    with pytest.raises(PlanDocumentError) as caught:
        validate(plan)
    message = str(caught.value)
    assert "column 2023年" in message
    assert "“高新技术企业培育目标任务分解” add up to 7624, but the 合计 row says 7623" in message
    assert "line 525" in message


def test_city_non_numeric_cell_names_row_and_column():
    with pytest.raises(PlanDocumentError) as caught:
        parse_plan_text(edit_line(CITY_TEXT, 576, "4038 4630", "4038 46З0"))
    message = str(caught.value)
    assert "line 576" in message and "table row ★ (两江新区)" in message and "column 2023年" in message


def test_city_task_numbering_gap_names_the_line():
    plan = parse_plan_text(edit_line(CITY_TEXT, 233, "12.充分", "13.充分"))
    with pytest.raises(PlanDocumentError, match=r"^line 233: task 13 where task 12 was expected"):
        validate(plan)


def test_city_unknown_region_label_names_the_line():
    with pytest.raises(PlanDocumentError, match=r"^line 507: unknown region label “渝西武陵山区城镇群”"):
        parse_plan_text(edit_line(CITY_TEXT, 507, "渝东南", "渝西"))


def test_city_missing_row_is_refused():
    lines = CITY_TEXT.split("\n")
    assert lines[522].startswith("39 彭水县")
    del lines[522]
    plan = parse_plan_text("\n".join(lines))
    with pytest.raises(PlanDocumentError, match="38 numbered rows; expected 39"):
        validate(plan)


# --------------------------------------------------------------------------- .docx


@pytest.fixture(scope="module")
def district_docx(tmp_path_factory):
    path = tmp_path_factory.mktemp("docx") / "qijiang.docx"
    write_plan_docx(DISTRICT_PATH, path)
    return path


def test_docx_round_trip_gives_the_same_plan(district, district_docx):
    from_docx = parse_plan_docx(district_docx)
    assert from_docx == district
    validate(from_docx)


def test_docx_attachment_is_a_real_table_with_merged_cells(district_docx):
    document = docx.Document(district_docx)
    (table,) = document.tables
    assert len(table.rows) == 3 + 42 + 1
    # 高新区管委会 is one cell over rows 1–3 (table rows 3–5 after the three header rows).
    assert table.cell(3, 1).text == "高新区管委会"
    assert table.cell(5, 1)._tc is table.cell(3, 1)._tc
    assert table.cell(6, 1).text == "食品园区管委会"
    assert table.cell(6, 1)._tc is not table.cell(3, 1)._tc
    assert table.cell(3, 2).text == "铝\n产业链专班"
    assert table.cell(45, 0).text == "合计" and table.cell(45, 3).text == "1976"
    # 1, merged 高新区管委会, 铝产业链专班 and ten numbers: thirteen grid columns.
    assert len(table.columns) == 13


def test_docx_edited_in_word_is_checked(tmp_path, district_docx):
    document = docx.Document(district_docx)
    table = document.tables[0]
    row = 3 + 11  # table row 12, 通惠街道
    assert table.cell(row, 1).text == "通惠街道"
    table.cell(row, 3 + 6).text = "3"  # 2023年新增
    edited = tmp_path / "edited.docx"
    document.save(edited)
    with pytest.raises(PlanDocumentError, match=r"table row 12 \(通惠街道\), column 高新技术企业2023年新增"):
        validate(parse_plan_docx(edited))


def test_docx_export_refuses_the_city_plan(tmp_path):
    with pytest.raises(ValueError, match="city action plan"):
        write_plan_docx(CITY_PATH, tmp_path / "city.docx")
    assert not (tmp_path / "city.docx").exists()


# --------------------------------------------------------------------------- goals beyond indicators


def goal_by_text(plan, text):
    (goal,) = [g for g in plan.goals if g.text == text]
    return goal


def test_district_qualitative_and_floor_space_goals(district):
    # 工作目标: “到2027年，…，成功创建国家高新区，…” — a goal with no number.
    goal = goal_by_text(district, "成功创建国家高新区")
    assert (goal.indicator, goal.year, goal.comparator, goal.value) == (None, 2027, "", None)
    assert goal.metric == "创建国家高新区" and goal.task is None
    # Task 9: “力争2027年全区孵化载体面积超过40万平方米。” — the number and unit as written.
    goal = goal_by_text(district, "力争2027年全区孵化载体面积超过40万平方米")
    assert (goal.indicator, goal.year, goal.comparator, goal.value, goal.unit) == (
        None, 2027, ">", Decimal("40"), "万平方米")
    assert (goal.metric, goal.scope, goal.task) == ("孵化载体面积", "全区", 9)
    assert len(district.goals) == 11


def test_city_regional_shares(city):
    shares = [(g.scope, g.comparator, g.value, g.unit, g.year, g.text) for g in city.goals
              if g.metric == "高新技术企业、科技型企业数量占全市总量"]
    assert shares == [
        ("中心城区", "=", Decimal("55"), "%", 2027, "中心城区高新技术企业、科技型企业数量占全市总量的55%"),
        ("主城新区", "=", Decimal("35"), "%", 2027, "主城新区占全市总量的35%"),
        ("渝东北三峡库区城镇群和渝东南武陵山区城镇群", "=", Decimal("10"), "%", 2027,
         "渝东北三峡库区城镇群和渝东南武陵山区城镇群占全市总量的10%"),
    ]


def test_city_numeric_task_targets(city):
    def numeric(text):
        goal = goal_by_text(city, text)
        return (goal.task, goal.year, goal.scope, goal.metric, goal.comparator, goal.value, goal.unit)

    assert numeric("依托企业重组新建各类科技创新平台1000个以上") == (
        5, 2027, "", "依托企业重组新建各类科技创新平台", ">=", Decimal("1000"), "个")
    assert numeric("全市企业研发经费投入达到1000亿元") == (
        6, 2027, "全市", "企业研发经费投入", ">=", Decimal("1000"), "亿元")
    assert numeric("力争2027年全市孵化载体面积超过1000万平方米") == (
        11, 2027, "全市", "孵化载体面积", ">", Decimal("1000"), "万平方米")
    assert numeric("新增规模以上科技服务企业500家") == (
        13, 2027, "", "新增规模以上科技服务企业", "=", Decimal("500"), "家")
    assert numeric("全市技术合同成交额超过1300亿元") == (
        14, 2027, "全市", "技术合同成交额", ">", Decimal("1300"), "亿元")
    # Task 4's “十百千”: every year more than 10 listings; 100 backbone and 1000 supported
    # enterprises over the plan period (no year stated).
    assert numeric("每年上市企业超过10家") == (4, None, "", "上市企业", ">", Decimal("10"), "家")
    assert goal_by_text(city, "每年上市企业超过10家").every_year is True
    assert numeric("遴选100家高新技术骨干企业重点支持") == (
        4, None, "", "遴选高新技术骨干企业重点支持", "=", Decimal("100"), "家")
    assert numeric("支持1000家高新技术企业和科技型企业发展壮大") == (
        4, None, "", "支持高新技术企业和科技型企业发展壮大", "=", Decimal("1000"), "家")
    assert goal_by_text(city, "支持1000家高新技术企业和科技型企业发展壮大").every_year is False
    relative = goal_by_text(city, "全社会研发经费投入强度超过全国平均水平")
    assert (relative.task, relative.year, relative.value) == (6, 2027, None)
    # The size a single facility must have is not a goal of the plan.
    assert not [g for g in city.goals if g.value == Decimal("50") or "孵化社区" in g.text]
    assert len(city.goals) == 21


def test_a_changed_task_figure_is_read_as_written():
    text = edit_line(CITY_TEXT, 131, "1000 个以上", "1200 个")
    goal = goal_by_text(parse_plan_text(text), "依托企业重组新建各类科技创新平台1200个")
    assert (goal.comparator, goal.value) == ("=", Decimal("1200"))


def test_regional_shares_that_do_not_make_100_are_refused():
    plan = parse_plan_text(edit_line(CITY_TEXT, 51, "35%", "30%"))
    with pytest.raises(PlanDocumentError, match=r"add up to 95%, not 100%"):
        validate(plan)


def test_a_task_restating_a_floor_space_goal_differently_is_refused():
    text = DISTRICT_TEXT.replace("全区专精特新企业突破100家，", "全区孵化载体面积超过50万平方米，", 1)
    with pytest.raises(PlanDocumentError) as caught:
        parse_plan_text(text)
    assert str(caught.value) == (
        "line 21: “力争2027年全区孵化载体面积超过40万平方米” contradicts the goal “全区孵化载体面积超过50万平方米”")


# --------------------------------------------------------------------------- header by its labels

THREE_ROW_HEADER = (
    "\t序号\n\t单位\n\t科技型企业\n（在库数量）\n\t高新技术企业\n\n"
    "\t\n\t\n\t2022年\n\t2023年\n\t2027年\n\t2022年\n在库量\n\t2023年\n\t2027年\n在库量\n\n"
    "\t\n\t\n\t\n\t\n\t\n\t\n\t在库量\n\t复审\n\t新增\n\t培育\n\t招引\n\t\n\n"
)
TWO_ROW_HEADER = (
    "\t序号\n\t单位\n\t科技型企业\n（在库数量）\n\t高新技术企业\n\n"
    "\t\n\t\n\t2022年\n\t2023年\n\t2027年\n\t2022年\n在库量\n\t2023年\n在库量\n\t2023年\n复审\n"
    "\t2023年\n新增\n\t2023年\n培育\n\t2023年\n招引\n\t2027年\n在库量\n\n"
)


def table_content(plan):
    (table,) = plan.tables
    return ([(r.number, r.unit, r.parent_unit, r.values) for r in table.rows],
            table.total.values, [key for key, _ in table.columns])


def test_a_header_split_into_two_rows_reads_the_same(district):
    assert DISTRICT_TEXT.count(THREE_ROW_HEADER) == 1
    two_rows = parse_plan_text(DISTRICT_TEXT.replace(THREE_ROW_HEADER, TWO_ROW_HEADER))
    validate(two_rows)
    assert table_content(two_rows) == table_content(district)


def test_columns_follow_the_header_labels_not_their_positions(district):
    # Swap the 复审 and 新增 columns in the header only: the numbers move to the other column.
    swapped = THREE_ROW_HEADER.replace("\t复审\n\t新增\n", "\t新增\n\t复审\n")
    plan = parse_plan_text(DISTRICT_TEXT.replace(THREE_ROW_HEADER, swapped))
    row = next(r for r in plan.tables[0].rows if r.number == 2)
    assert row.values[("high_tech", 2023, "new")] == 24  # the document's 复审 figure
    assert row.values[("high_tech", 2023, "re_review")] == 14
    with pytest.raises(PlanDocumentError, match="table row 1 .*培育 1 \\+ 招引 3 = 4, but 新增 is 5"):
        validate(plan)


def test_an_unknown_header_label_is_named():
    broken = THREE_ROW_HEADER.replace("\t招引\n", "\t引进\n")
    with pytest.raises(PlanDocumentError, match="unexpected attachment table header cell “引进”"):
        parse_plan_text(DISTRICT_TEXT.replace(THREE_ROW_HEADER, broken))
    missing = THREE_ROW_HEADER.replace("\t2027年\n在库量\n", "\t2026年\n在库量\n")
    with pytest.raises(PlanDocumentError, match="unexpected attachment table column “2026年在库量”"):
        parse_plan_text(DISTRICT_TEXT.replace(THREE_ROW_HEADER, missing))
