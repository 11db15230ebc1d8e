"""A generated register for demonstrations, consistent with the target table's 2022 figures.

Per unit of the district plan: at 2022-12-31 exactly the 2022 tech-based stock is in the library
and exactly the 2022 high-tech stock holds a valid certificate (some of them due for re-review in
2023); a few enterprises that no longer count (removed, expired, closed) make the filters matter.
From 2023 to today the register grows towards the yearly targets at a pace that differs per unit,
so the dispatch board shows green, yellow and red. The same seed gives the same register.

Departments (区级部门) count only the enterprises they attracted (招引), as the target table's
说明 says: their enterprises are all attracted ones, with no 2022 stock.
"""

import random
from datetime import date, timedelta

from sqlalchemy import insert, select

from taskflow.core import audit, clock
from taskflow.enterprises.creditcode import generate
from taskflow.enterprises.models import (
    DispatchPeriod,
    Enterprise,
    EnterpriseEvent,
    certificate_fields,
)
from taskflow.extensions import db
from taskflow.measures.indicators import interpolate_target
from taskflow.plans.models import Indicator, Target
from taskflow.units.models import Unit, UnitKind

PLACES = ("綦江", "渝南", "古南", "文龙", "三江", "东溪", "赶水", "打通", "石角", "永新", "万盛",
          "通惠", "扶欢", "篆塘", "隆盛", "郭扶", "三角", "安稳", "横山", "中峰", "丁山", "石壕")
WORDS = ("恒", "鑫", "创", "盛", "瑞", "华", "泰", "宏", "博", "达", "晟", "源", "丰", "锐", "智",
         "联", "信", "通", "德", "坤", "启", "航", "卓", "远", "正", "明", "新", "嘉", "宇", "奥")
TRADES = ("机械制造", "铝业", "新材料", "电子科技", "食品", "信息技术", "化工", "建材",
          "汽车零部件", "齿轮", "装备", "生物科技", "智能科技", "环保科技", "能源科技", "精密铸造",
          "数字科技", "农业科技", "装配式建筑", "医疗器械")
FORMS = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")


def _day(rng: random.Random, start: date, end: date) -> date:
    return date.fromordinal(rng.randint(start.toordinal(), end.toordinal()))


class _Builder:
    def __init__(self, seed: int, today: date):
        self.rng = random.Random(seed)
        self.today = today
        self.codes: set[str] = set()
        self.rows: list[dict] = []
        self.renewals: list[int] = []  # indexes of rows re-reviewed
        self.departments: set[int] = set()  # units that count attracted enterprises only

    def code(self) -> str:
        while True:
            code = generate(self.rng)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def name(self) -> str:
        r = self.rng
        words = r.choice(WORDS) + r.choice(WORDS)
        return f"重庆{r.choice(PLACES)}{words}{r.choice(TRADES)}{r.choice(FORMS)}"

    def add(self, unit_id: int, source: str, **fields) -> dict:
        if unit_id in self.departments:
            source = "attracted"
        row = {"name": self.name(), "credit_code": self.code(), "unit_id": unit_id,
               "source": source, "tech_in_library_on": None, "tech_removed_on": None,
               "high_tech_cert_no": None, "high_tech_cert_on": None, "high_tech_first_on": None,
               "high_tech_expires_on": None, "re_review_due_on": None,
               "specialised_sme": False, "status": "active", "closed_on": None}
        row.update(fields)
        self.rows.append(row)
        return row

    def certify(self, row: dict, on: date) -> None:
        renewed = row["high_tech_cert_on"] is not None
        fields = certificate_fields(on, row["high_tech_cert_on"], row["high_tech_first_on"],
                                    row["high_tech_expires_on"])
        row.update(fields)
        row["high_tech_cert_on"] = on
        row["high_tech_cert_no"] = f"GR{on.year}5110{self.rng.randint(0, 99999):05d}"
        if renewed:
            self.renewals.append(id(row))


def _unit_targets(plan_id: int) -> dict[int, dict]:
    stmt = (select(Target.unit_id, Indicator.code, Target.kind, Target.year, Target.value)
            .join(Indicator, Indicator.id == Target.indicator_id)
            .where(Target.plan_id == plan_id, Target.unit_id.is_not(None),
                   Indicator.code.in_(("tech_based", "high_tech"))))
    result: dict[int, dict] = {}
    for unit_id, code, kind, year, value in db.session.execute(stmt):
        result.setdefault(unit_id, {}).setdefault((code, kind), {})[year] = value
    return result


def _whole(rng: random.Random, value: float) -> int:
    """Round at random in proportion to the fraction, so small yearly targets still move."""
    whole = int(value)
    return whole + (1 if rng.random() < value - whole else 0)


def _year_share(year: int, today: date) -> tuple[date, float]:
    """The last day to generate in `year` and the share of the year it covers."""
    end = min(date(year, 12, 31), today)
    share = (end - date(year, 1, 1)).days / 365 if year == today.year else 1.0
    return end, share


def generate_demo_register(district_plan, seed: int = 2023) -> int:
    """Create the demo register for the plan's units; returns how many enterprises (0 if the
    register already has enterprises for these units)."""
    unit_ids = select(Unit.id).where(Unit.plan_id == district_plan.id).scalar_subquery()
    if db.session.scalar(select(Enterprise.id).where(Enterprise.unit_id.in_(unit_ids)).limit(1)):
        return 0
    today = clock.local_today()
    b = _Builder(seed, today)
    stock_end = date(2022, 12, 31)
    targets = _unit_targets(district_plan.id)
    b.departments = set(db.session.scalars(select(Unit.id).where(
        Unit.plan_id == district_plan.id, Unit.kind == UnitKind.DEPARTMENT)))
    for unit_id in sorted(targets):
        t = targets[unit_id]
        if unit_id in b.departments:
            _grow(b, unit_id, t, [], [])  # no stock: attracted enterprises only
            continue
        tech = t.get(("tech_based", "in_library"), {})
        high = t.get(("high_tech", "in_library"), {})
        t22, h22 = tech.get(2022, 0), high.get(2022, 0)
        due23 = min(t.get(("high_tech", "re_review"), {}).get(2023, 0), h22)
        # The 2022 tech-based stock, in the library at the end of 2022.
        tech_rows = [b.add(unit_id, "stock",
                           tech_in_library_on=_day(b.rng, date(2016, 1, 1), stock_end))
                     for _ in range(t22)]
        # The 2022 high-tech stock: valid at the end of 2022, `due23` of them dated 2020.
        holders = tech_rows[:h22] + [b.add(unit_id, "stock") for _ in range(max(0, h22 - t22))]
        for i, row in enumerate(holders):
            start = (date(2020, 1, 1), date(2020, 12, 31)) if i < due23 else (
                date(2021, 1, 1), stock_end)
            b.certify(row, _day(b.rng, *start))
            row["specialised_sme"] = b.rng.random() < 0.15
        for row in tech_rows[h22:]:
            row["specialised_sme"] = b.rng.random() < 0.02
        # Enterprises that do not count at the end of 2022.
        for _ in range(max(1, t22 // 25)):
            b.add(unit_id, "stock", tech_in_library_on=_day(b.rng, date(2016, 1, 1),
                                                            date(2020, 12, 31)),
                  tech_removed_on=_day(b.rng, date(2021, 1, 1), stock_end))
        for _ in range(max(1, h22 // 10)):
            row = b.add(unit_id, "stock")
            b.certify(row, _day(b.rng, date(2017, 1, 1), date(2019, 12, 31)))
        if t22:
            b.add(unit_id, "stock", tech_in_library_on=date(2018, 3, 1),
                  status="closed", closed_on=_day(b.rng, date(2020, 1, 1), stock_end))
        _grow(b, unit_id, t, tech_rows, holders)
    if not b.rows:
        return 0
    now = clock.utcnow()
    renewed = set(b.renewals)
    for row in b.rows:
        row.update(created_at=now, updated_at=now, version_id=1)
    db.session.execute(insert(Enterprise), b.rows)
    id_by_code = dict(db.session.execute(select(Enterprise.credit_code, Enterprise.id).where(
        Enterprise.unit_id.in_(unit_ids))).all())
    ids = [id_by_code[row["credit_code"]] for row in b.rows]
    events = []
    for enterprise_id, row in zip(ids, b.rows, strict=True):
        events.append({"enterprise_id": enterprise_id, "occurred_at": now, "actor_id": None,
                       "unit_id": row["unit_id"], "kind": "demo", "changes": None,
                       "note": ""})
        if id(row) in renewed:
            events.append({"enterprise_id": enterprise_id, "occurred_at": now, "actor_id": None,
                           "unit_id": row["unit_id"], "kind": "re_reviewed",
                           "changes": {"high_tech_cert_on": [
                               None, row["high_tech_cert_on"].isoformat()]},
                           "note": ""})
    db.session.execute(insert(EnterpriseEvent), events)
    audit.record(None, "enterprise.demo_generate", district_plan,
                 after={"enterprises": len(ids), "seed": seed},
                 summary=f"{len(ids)} demo enterprises")
    return len(ids)


def _grow(b: _Builder, unit_id: int, t: dict, tech_rows: list[dict], holders: list[dict]) -> None:
    """2023 … today: new tech-based and high-tech enterprises, re-reviews, removals."""
    rng = b.rng
    tech = t.get(("tech_based", "in_library"), {})
    high = t.get(("high_tech", "in_library"), {})
    pace = rng.choice((0.55, 0.8, 0.92, 1.0, 1.05, 1.15))  # this unit's pace against targets
    candidates = [r for r in tech_rows if r["high_tech_cert_on"] is None]
    rng.shuffle(candidates)
    for year in range(2023, b.today.year + 1):
        end, share = _year_share(year, b.today)
        if end < date(year, 1, 1):
            break
        start = date(year, 1, 1)
        # Re-reviews of certificates expiring this year (before today), most of them passed.
        lapsed = 0
        for row in list(holders):
            expires = row["high_tech_expires_on"]
            if expires and expires.year == year and row["closed_on"] is None:
                renew_on = expires - timedelta(days=rng.randint(5, 60))
                if renew_on <= end and rng.random() < 0.85:
                    b.certify(row, renew_on)
                elif expires <= end:
                    lapsed += 1
        # Tech-based: towards the (interpolated) target, plus replacements of removals.
        prev, goal = interpolate_target(tech, year - 1), interpolate_target(tech, year)
        removals = 0
        if tech_rows:
            leaving = min(len(tech_rows), round(len(tech_rows) * 0.01 * share))
            for row in rng.sample(tech_rows, k=leaving):
                if row["tech_removed_on"] is None and row["high_tech_cert_on"] is None:
                    row["tech_removed_on"] = _day(rng, start, end)
                    removals += 1
        grow = _whole(rng, max(0.0, (goal or 0) - (prev or 0)) * pace * share) + removals
        new_tech = [b.add(unit_id, "cultivated", tech_in_library_on=_day(rng, start, end))
                    for _ in range(grow)]
        tech_rows.extend(new_tech)
        candidates.extend(new_tech)
        # High-tech: new certifications, cultivated from the unit's tech-based enterprises or
        # attracted from elsewhere.
        if year == 2023:
            cultivated = t.get(("high_tech", "cultivated"), {}).get(2023, 0)
            attracted = t.get(("high_tech", "attracted"), {}).get(2023, 0)
        else:
            need = max(0.0, (interpolate_target(high, year) or 0)
                       - (interpolate_target(high, year - 1) or 0))
            # The units also replace the certificates that lapsed this year.
            need += lapsed
            cultivated, attracted = need * 0.6, need * 0.4
        if unit_id in b.departments:
            cultivated, attracted = 0, cultivated + attracted
        for kind, count in (("cultivated", cultivated), ("attracted", attracted)):
            for _ in range(_whole(rng, count * pace * share)):
                on = _day(rng, start, end)
                if kind == "cultivated" and candidates:
                    row = candidates.pop()
                    if row["tech_in_library_on"] and row["tech_in_library_on"] > on:
                        on = min(end, row["tech_in_library_on"] + timedelta(days=30))
                    row["source"] = "cultivated"
                else:
                    row = b.add(unit_id, "attracted", tech_in_library_on=on)
                    tech_rows.append(row)
                b.certify(row, on)
                row["specialised_sme"] = rng.random() < 0.12
                holders.append(row)


def open_demo_month(plan, today: date) -> DispatchPeriod | None:
    """The last month's dispatch open, as the scheduler opens it, so the board has a month to
    show on the first visit (also before DISPATCH_OPEN_DAY of this month)."""
    from taskflow.enterprises import operations

    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if not plan.start_year <= month.year <= plan.end_year:
        return None
    existing = db.session.scalar(select(DispatchPeriod).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == month))
    return existing or operations.open_month(month, None, plan=plan)


def setup_demo(plan, echo) -> None:
    """`flask demo setup` hook: the demo register, once, and last month's dispatch open."""
    from taskflow.core.calendar import UnknownCalendarYear
    from taskflow.enterprises.operations import DispatchError

    created = generate_demo_register(plan)
    echo(f"enterprises: {created} demo enterprises created" if created else "enterprises: register exists already")
    try:
        period = open_demo_month(plan, clock.local_today())
    except UnknownCalendarYear as exc:  # the admin enters the year first; nothing is guessed
        echo(f"dispatch: no month opened ({exc.message()})")
        return
    except DispatchError as exc:
        echo(f"dispatch: no month opened ({exc})")
        return
    if period is not None:
        echo(f"dispatch: {period.month:%Y-%m} open, confirm by {period.due_on.isoformat()}")
