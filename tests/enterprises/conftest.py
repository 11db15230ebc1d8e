"""Area fixtures: a district plan under a city plan, with units and the target table's rows."""

from dataclasses import dataclass, field
from io import BytesIO

import pytest
from openpyxl import Workbook

from taskflow.enterprises import creditcode
from taskflow.extensions import db

# (unit name, kind, tech 2022/2023/2027, high-tech 2022 stock, 2023 in library / re-review / new /
# cultivated / attracted, 2027) — rows of the district plan's target table ("-" is None).
ROWS = [
    ("铝产业链专班", "task_force", (20, 30, 55), (10, 14, 5, 4, 1, 3, 20)),
    ("装备制造产业链专班", "task_force", (257, 280, 325), (70, 84, 24, 14, 9, 5, 100)),
    ("化工产业链专班", "task_force", (None, 7, 25), (None, 2, None, 2, 1, 1, 8)),
    ("古南街道", "street", (246, 276, 370), (7, 9, 1, 2, 1, 1, 10)),
    ("文龙街道", "street", (436, 486, 570), (11, 13, None, 2, 1, 1, 14)),
]
HIGH_KINDS = (("in_library", 2022), ("in_library", 2023), ("re_review", 2023), ("new", 2023),
              ("cultivated", 2023), ("attracted", 2023), ("in_library", 2027))
TECH_YEARS = (2022, 2023, 2027)
CITY_QIJIANG = {"tech_based": {2022: 1976, 2023: 2260, 2025: 3000, 2027: 3900},
                "high_tech": {2022: 142, 2023: 170, 2025: 240, 2027: 300}}


@dataclass
class District:
    plan: object
    city_plan: object
    qijiang: object
    park: object
    units: dict = field(default_factory=dict)
    indicators: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)  # (unit name or None, code, kind, year) -> value

    def unit(self, name):
        return self.units[name]

    @property
    def unit_list(self):
        return [self.units[name] for name, *_ in ROWS]


@pytest.fixture
def district(app, plan, make_plan, make_unit) -> District:
    """The test plan as a district plan with five target rows and a city plan above it."""
    from taskflow.plans.models import Indicator, Target
    from taskflow.units.models import Unit

    city = make_plan(code="city-plan", title="重庆市行动方案", level="city")
    qijiang = Unit(plan_id=city.id, name="綦江区", kind="district", peer_group="new_urban")
    db.session.add(qijiang)
    indicators = {code: Indicator(code=code, name=name, measure="count")
                  for code, name in (("tech_based", "科技型企业"), ("high_tech", "高新技术企业"))}
    db.session.add_all(indicators.values())
    db.session.flush()
    plan.parent_id, plan.parent_unit_id = city.id, qijiang.id
    park = make_unit("高新区管委会", kind="park_committee", peer_group="park_task_force")
    result = District(plan, city, qijiang, park, indicators=indicators)
    totals: dict = {}
    for number, (name, kind, tech, high) in enumerate(ROWS, start=1):
        unit = make_unit(name, kind=kind,
                         peer_group="park_task_force" if kind == "task_force" else "street_town",
                         parent_id=park.id if kind == "task_force" else None)
        result.units[name] = unit
        values = [("tech_based", "in_library", y, v) for y, v in zip(TECH_YEARS, tech)]
        values += [("high_tech", k, y, v) for (k, y), v in zip(HIGH_KINDS, high)]
        for code, kind_, year, value in values:
            if value is None:
                continue
            db.session.add(Target(plan_id=plan.id, unit_id=unit.id,
                                  indicator_id=indicators[code].id, year=year, kind=kind_,
                                  value=value, source_row=number))
            result.targets[(name, code, kind_, year)] = value
            totals[(code, kind_, year)] = totals.get((code, kind_, year), 0) + value
    for (code, kind_, year), value in totals.items():
        db.session.add(Target(plan_id=plan.id, unit_id=None, indicator_id=indicators[code].id,
                              year=year, kind=kind_, value=value))
        result.targets[(None, code, kind_, year)] = value
    for code, by_year in CITY_QIJIANG.items():
        for year, value in by_year.items():
            db.session.add(Target(plan_id=city.id, unit_id=qijiang.id,
                                  indicator_id=indicators[code].id, year=year,
                                  kind="in_library", value=value))
    db.session.commit()
    return result


@pytest.fixture
def codes():
    """An endless supply of distinct valid credit codes."""
    pool = iter(creditcode.generate_unique(5000, seed=99))
    return lambda: next(pool)


@pytest.fixture
def make_enterprise(app, codes):
    """Insert an enterprise directly (not through the operations under test)."""
    from taskflow.enterprises.models import Enterprise

    def factory(unit, name=None, **fields):
        enterprise = Enterprise(name=name or f"重庆测试企业{len(fields)}有限公司",
                                credit_code=fields.pop("credit_code", None) or codes(),
                                unit_id=unit.id, source=fields.pop("source", "stock"))
        cert_on = fields.pop("high_tech_cert_on", None)
        for key, value in fields.items():
            setattr(enterprise, key, value)
        if cert_on:
            enterprise.set_certificate(fields.get("high_tech_cert_no") or "GR2023", cert_on)
        db.session.add(enterprise)
        db.session.commit()
        return enterprise

    return factory


HEADER = ["企业名称", "统一社会信用代码", "来源（存量/培育/招引）", "科技型企业入库日期",
          "高新技术企业证书编号", "高新技术企业认定日期", "专精特新（是/否）"]


@pytest.fixture
def make_xlsx():
    """make_xlsx(rows, header=HEADER) -> .xlsx bytes."""
    return xlsx


def xlsx(rows, header=HEADER) -> bytes:
    """A workbook with the template's header and the given rows."""
    workbook = Workbook()
    sheet = workbook.active
    if header:
        sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

