"""The demo register reproduces the target table's 2022 figures and keeps monthly totals whole."""

from datetime import date

from sqlalchemy import func, select

from taskflow.enterprises import creditcode, operations, queries
from taskflow.enterprises.demo import generate_demo_register
from taskflow.enterprises.models import Enterprise
from taskflow.extensions import db
from taskflow.measures import indicators as ind


def test_demo_register_reproduces_the_2022_figures_per_unit(district):
    count = generate_demo_register(district.plan, seed=2023)
    db.session.commit()
    assert count > 1000
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == count
    figures = ind.figures_by_unit(date(2022, 12, 31))
    for unit in district.unit_list:
        tech = district.targets.get((unit.name, "tech_based", "in_library", 2022), 0)
        high = district.targets.get((unit.name, "high_tech", "in_library", 2022), 0)
        got = figures.get(unit.id, ind.empty_figures())
        assert (got["tech_in_library"], got["high_tech_valid"]) == (tech, high), unit.name
    total = ind.total_figures(date(2022, 12, 31), [u.id for u in district.unit_list])
    assert total["tech_in_library"] == district.targets[(None, "tech_based", "in_library", 2022)]
    assert total["high_tech_valid"] == district.targets[(None, "high_tech", "in_library", 2022)]


def test_demo_register_is_valid_deterministic_and_not_doubled(district):
    generate_demo_register(district.plan, seed=7)
    db.session.commit()
    rows = db.session.execute(select(Enterprise.credit_code, Enterprise.high_tech_cert_on,
                                     Enterprise.tech_in_library_on)).all()
    assert all(creditcode.is_valid(code) for code, *_ in rows)
    first = sorted(code for code, *_ in rows)
    # Re-running on a populated register adds nothing.
    assert generate_demo_register(district.plan, seed=7) == 0
    # The growth years are there: enterprises new in 2023 and after, re-reviews in 2023.
    fig23 = ind.total_figures(date(2023, 12, 31), [u.id for u in district.unit_list])
    assert fig23["tech_new"] > 0 and fig23["high_tech_new"] > 0 and fig23["re_reviewed"] > 0
    assert fig23["cultivated"] + fig23["attracted"] == fig23["high_tech_new"]
    # Same seed on a fresh register gives the same codes.
    db.session.execute(Enterprise.__table__.delete().where(Enterprise.id > 0).execution_options())
    from taskflow.enterprises.models import EnterpriseEvent

    db.session.execute(EnterpriseEvent.__table__.delete())
    db.session.execute(Enterprise.__table__.delete())
    generate_demo_register(district.plan, seed=7)
    assert sorted(db.session.scalars(select(Enterprise.credit_code))) == first


def test_each_month_dispatch_totals_equal_the_sum_over_units(district, make_user, freeze):
    generate_demo_register(district.plan, seed=2023)
    db.session.commit()
    office = make_user("office")
    freeze("2024-12-20T10:00")
    for month in range(1, 13):
        period = operations.open_month(f"2024-{month:02d}", office)
        db.session.commit()
        board = queries.board(period)
        assert board.district.totals == board.district.sum_over_units, period.label
        assert board.district.totals["tech_in_library"] > 0
    assert operations.open_month_if_due(date(2024, 12, 20)) is None  # 2024-11 is already open


def test_demo_on_the_imported_plan_reproduces_the_target_table(imported_plans):
    """The real target table (42 rows): each unit's 2022 counts, and the 合计 row."""
    from taskflow.plans.models import Indicator, Target

    plan = imported_plans
    count = generate_demo_register(plan, seed=2023)
    db.session.commit()
    assert count > 2000
    rows = db.session.execute(
        select(Target.unit_id, Indicator.code, Target.value)
        .join(Indicator, Indicator.id == Target.indicator_id)
        .where(Target.plan_id == plan.id, Target.year == 2022, Target.kind == "in_library",
               Indicator.code.in_(("tech_based", "high_tech")))).all()
    assert rows, "the plan importer gave no 2022 targets"
    figures = ind.figures_by_unit(date(2022, 12, 31))
    expected_total = {}
    for unit_id, code, value in rows:
        figure = "tech_in_library" if code == "tech_based" else "high_tech_valid"
        if unit_id is None:
            expected_total[figure] = value
            continue
        assert figures.get(unit_id, ind.empty_figures())[figure] == value, (unit_id, code)
    units = [u.id for u in queries.dispatch_units(plan.id)]
    totals = ind.total_figures(date(2022, 12, 31), units)
    for figure, value in expected_total.items():
        assert totals[figure] == value, figure
