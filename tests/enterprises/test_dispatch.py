"""Monthly dispatch: opening months, unit figures from the register, confirmation, board, jobs."""

import io
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.enterprises import jobs, operations, queries
from taskflow.enterprises.models import DispatchConfirmation, DispatchPeriod
from taskflow.extensions import db


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_office_opens_a_month_once(client, login, make_user, district, freeze):
    freeze("2024-04-02T09:00")
    login(make_user("office"))
    response = client.post("/dispatch/open", data={"month": "2024-03"})
    assert response.status_code == 302
    period = db.session.scalar(select(DispatchPeriod))
    # The 5th working day after 03-31: 04-01, 02, 03, then 清明 (04-04…06 off), Sunday 04-07
    # (make-up day), Monday 04-08.
    assert period.month == date(2024, 3, 1) and period.due_on == date(2024, 4, 8)
    page = client.post("/dispatch/open", data={"month": "2024-03"}, follow_redirects=True)
    assert "已开启" in page.get_data(as_text=True)
    page = client.post("/dispatch/open", data={"month": "2024-06"}, follow_redirects=True)
    assert "尚未开始" in page.get_data(as_text=True)
    assert _count(DispatchPeriod) == 1
    assert _count(AuditEvent, AuditEvent.action == "dispatch.open") == 1


def test_cli_opens_a_month_at_a_given_time(runner, district):
    result = runner.invoke(args=["dispatch", "open", "--month", "2024-03",
                                 "--now", "2024-04-01T08:00"])
    assert result.exit_code == 0, result.output
    assert "2024-03" in result.output and "2024-04-08" in result.output
    result = runner.invoke(args=["dispatch", "open", "--month", "2024-03",
                                 "--now", "2024-04-01T08:00"])
    assert result.exit_code != 0 and "已开启" in result.output
    result = runner.invoke(args=["dispatch", "open", "--month", "2024-13"])
    assert result.exit_code != 0


def test_unit_figures_come_from_the_register_at_month_end(district, make_enterprise, freeze):
    freeze("2024-04-10T09:00")
    unit = district.unit("古南街道")
    make_enterprise(unit, tech_in_library_on=date(2022, 5, 1))  # stock, in library
    make_enterprise(unit, tech_in_library_on=date(2024, 3, 31))  # new this year, in March
    make_enterprise(unit, tech_in_library_on=date(2024, 4, 1))  # after March: not counted
    make_enterprise(unit, tech_in_library_on=date(2020, 1, 1), tech_removed_on=date(2024, 2, 1))
    make_enterprise(unit, source="cultivated", tech_in_library_on=date(2023, 1, 1),
                    high_tech_cert_on=date(2024, 2, 10))  # new high-tech, cultivated
    make_enterprise(unit, source="attracted", high_tech_cert_on=date(2024, 3, 1))
    make_enterprise(unit, high_tech_cert_on=date(2021, 5, 1))  # expires 2024-05-01: due
    make_enterprise(unit, high_tech_cert_on=date(2020, 12, 1))  # expired 2023-12-01
    renewed = make_enterprise(unit, high_tech_cert_on=date(2021, 1, 20))
    renewed.set_certificate("GR2024", date(2024, 1, 10))  # re-reviewed in January
    make_enterprise(unit, tech_in_library_on=date(2021, 1, 1), specialised_sme=True,
                    status="closed", closed_on=date(2024, 1, 5))
    db.session.commit()
    figures = queries.unit_figures(unit.id, date(2024, 3, 31))
    assert figures == {"tech_in_library": 3, "tech_new": 1, "high_tech_valid": 4,
                       "high_tech_new": 2, "cultivated": 1, "attracted": 1,
                       "re_review_due": 2, "re_reviewed": 1, "specialised": 0}
    # The renewed certificate kept the status continuous: valid at the end of 2023 as well.
    assert queries.unit_figures(unit.id, date(2023, 12, 31))["high_tech_valid"] == 2


def test_unit_confirms_its_figures_with_a_note_and_the_board_shows_it(
        client, login, make_user, district, make_enterprise, freeze):
    freeze("2024-04-03T09:00")
    unit, other = district.unit("古南街道"), district.unit("文龙街道")
    make_enterprise(unit, tech_in_library_on=date(2024, 2, 1))
    office = make_user("office")
    period = operations.open_month("2024-03", office)
    db.session.commit()
    reporter = make_user("reporter", unit=unit)
    login(reporter)
    assert client.get("/dispatch/").headers["Location"].endswith(
        f"/dispatch/{period.id}/units/{unit.id}")
    page = client.get(f"/dispatch/{period.id}/units/{unit.id}").get_data(as_text=True)
    assert "科技型企业在库" in page
    response = client.post(f"/dispatch/{period.id}/units/{unit.id}/confirm",
                           data={"note": "3月新增1家"})
    assert response.status_code == 302
    row = db.session.scalar(select(DispatchConfirmation))
    assert row.figures["tech_in_library"] == 1 and row.note == "3月新增1家" and not row.late
    # Another unit's page does not exist for this reporter; confirming for it neither.
    assert client.get(f"/dispatch/{period.id}/units/{other.id}").status_code == 404
    assert client.post(f"/dispatch/{period.id}/units/{other.id}/confirm").status_code == 404
    client.post("/logout")
    login(office)
    board = client.get(f"/dispatch/{period.id}").get_data(as_text=True)
    assert "3月新增1家" in board and "全区合计" in board
    assert 'id="confirmed-count">1<' in board
    export = client.get(f"/dispatch/{period.id}/export.xlsx")
    sheet = load_workbook(io.BytesIO(export.data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    # The title, the as-of line, the header, the units, 全区合计, a blank row and the note.
    assert rows[0][0] == "月调度表 2024-03"
    assert rows[1][0].startswith("数据截至 2024-03-31 · 制表单位 ")
    assert rows[2][0] == "单位名称" and rows[-3][0] == "全区合计"
    assert rows[-1][0].startswith("逾期情况截至 ")
    names = [r[0] for r in rows[3:-3]]
    assert names == [u.name for u in district.unit_list]
    # Each figure column of the total row is the sum over the units.
    for col in range(1, 10):
        assert rows[-3][col] == sum(r[col] for r in rows[3:-3])


def test_the_office_cannot_confirm_for_a_unit_and_closed_months_refuse(
        client, login, make_user, district, freeze):
    freeze("2024-04-03T09:00")
    unit = district.unit("古南街道")
    office = make_user("office")
    period = operations.open_month("2024-03", office)
    db.session.commit()
    login(office)
    assert client.post(f"/dispatch/{period.id}/units/{unit.id}/confirm").status_code == 403
    client.post(f"/dispatch/{period.id}/close")
    client.post("/logout")
    login(make_user("unit_head", unit=unit))
    page = client.post(f"/dispatch/{period.id}/units/{unit.id}/confirm", data={"note": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "已关闭" in page
    assert _count(DispatchConfirmation) == 0


def test_jobs_open_the_month_mark_late_units_once_and_keep_lateness(
        district, make_user, freeze):
    freeze("2024-04-01T07:00")
    period = operations.open_month_if_due(date(2024, 4, 1))
    assert period.label == "2024-03"
    assert operations.open_month_if_due(date(2024, 4, 1)) is None  # idempotent
    db.session.commit()
    assert len(queries.units_not_confirmed(period)) == len(district.unit_list)
    unit = district.unit("古南街道")
    operations.confirm_figures(period, unit, "", make_user("reporter", unit=unit))
    db.session.commit()
    assert period.due_on == date(2024, 4, 8)
    assert operations.mark_late(period, date(2024, 4, 8)) == 0  # not yet past due
    assert operations.mark_late(period, date(2024, 4, 9)) == len(district.unit_list) - 1
    assert operations.mark_late(period, date(2024, 4, 10)) == 0  # idempotent
    db.session.commit()
    late_unit = district.unit("文龙街道")
    freeze("2024-04-09T10:00")
    row = operations.confirm_figures(period, late_unit, "晚了",
                                     make_user("reporter", unit=late_unit))
    db.session.commit()
    assert row.late and row.confirmed_at is not None
    assert {u.name for u in queries.units_not_confirmed(period)} == {
        u.name for u in district.unit_list} - {"古南街道", "文龙街道"}
    on_time = db.session.scalar(select(DispatchConfirmation).where(
        DispatchConfirmation.unit_id == unit.id))
    assert not on_time.late


def test_district_progress_against_both_plans(district, make_enterprise, freeze, app):
    freeze("2023-07-10T09:00")
    unit = district.unit("古南街道")
    for _ in range(3):
        make_enterprise(unit, tech_in_library_on=date(2022, 6, 1))
    office_period = DispatchPeriod(plan_id=district.plan.id, month=date(2023, 6, 1),
                                   due_on=date(2023, 7, 5))
    db.session.add(office_period)
    db.session.commit()
    board = queries.board(office_period)
    tech = board.district.against_district["tech_in_library"]
    assert tech.target == district.targets[(None, "tech_based", "in_library", 2023)]
    assert tech.base == district.targets[(None, "tech_based", "in_library", 2022)]
    assert tech.actual == 3 and tech.light == "red"
    city = board.district.against_city["tech_in_library"]
    assert (city.base, city.target) == (1976, 2260)
    row = next(r for r in board.rows if r.unit.id == unit.id)
    assert (row.progress["tech_in_library"].base, row.progress["tech_in_library"].target) == (
        246, 276)
    # The flow targets exist for 2023 only: cultivated has a target, re-review for 古南 too.
    assert row.progress["cultivated"].target == 1
    # 3 in the library against a stock of 1000+: a decline, red whatever the thresholds.
    assert tech.state == "decline" and tech.decline == tech.base - 3
    app.config["LIGHT_RED_POINTS"] = 100_000
    app.config["LIGHT_YELLOW_POINTS"] = 50_000
    assert queries.board(office_period).district.against_district["tech_in_library"].light == (
        "red")
    # A flow target (cultivated: 1 this year, none yet at the end of June, 50 % expected)
    # follows the thresholds from the config.
    cultivated = queries.board(office_period).rows[3].progress["cultivated"]
    assert (cultivated.done_pct, cultivated.expected_pct, cultivated.light) == (0, 50, "green")
    app.config["LIGHT_RED_POINTS"], app.config["LIGHT_YELLOW_POINTS"] = 30, 10
    assert queries.board(office_period).rows[3].progress["cultivated"].light == "red"


# ---------------------------------------------------------------- the deadline in working days


def test_september_2026s_deadline_falls_after_national_day_on_a_working_day(app, district):
    from taskflow.core.calendar import WorkCalendar

    # 09-30 is a Wednesday; 10-01…07 are off; 10-08 (1), 10-09 (2), make-up Saturday 10-10 (3),
    # 10-12 (4), 10-13 (5). Month end + 5 calendar days would be 10-05, in the holiday.
    due = operations.due_date(date(2026, 9, 1))
    assert due == date(2026, 10, 13)
    assert WorkCalendar.load().is_workday(due)


def test_a_deadline_is_never_a_rest_day(app, district):
    """November 2026: month end + 5 calendar days was Saturday 2026-12-05; the 5th working day
    after 11-30 is Monday 12-07. For every month the calendar knows and every setting from 1 to
    10 working days, the deadline is a working day (a Saturday only when it is an official
    make-up working day, such as 2026-10-10)."""
    from taskflow.core.calendar import WorkCalendar

    assert operations.due_date(date(2026, 11, 1)) == date(2026, 12, 7)
    cal = WorkCalendar.load()
    saturdays = set()
    for year in (2023, 2024, 2025, 2026):
        for month in range(1, 13):
            if (year, month) == (2026, 12):
                continue  # its deadline lies in 2027, a year the package does not know
            for n in range(1, 11):
                app.config["DISPATCH_LATE_AFTER_WORKING_DAY"] = n
                due = operations.due_date(date(year, month, 1), calendar=cal)
                assert cal.is_workday(due), (year, month, n, due)
                assert due.month != month or due.year != year  # after the month's end
                if due.weekday() >= 5:
                    saturdays.add(due)
    import chinese_calendar
    assert saturdays and all(chinese_calendar.is_workday(d) for d in saturdays)
    assert date(2026, 12, 5) not in saturdays


def test_the_deadline_setting_is_read_from_the_environment(app, district):
    import subprocess
    import sys

    from config import BASE_DIR

    env = {"TASKFLOW_DISPATCH_LATE_AFTER_WORKING_DAY": "2", "TASKFLOW_DISPATCH_OPEN_DAY": "3",
           "TASKFLOW_DISPATCH_REMIND_WORKING_DAY": "4", "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-c", "import config; c = config.Config; print(c.DISPATCH_LATE_AFTER_"
         "WORKING_DAY, c.DISPATCH_OPEN_DAY, c.DISPATCH_REMIND_WORKING_DAY)"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["2", "3", "4"]
    assert app.config["DISPATCH_LATE_AFTER_WORKING_DAY"] == 5  # the default
    app.config["DISPATCH_LATE_AFTER_WORKING_DAY"] = 2  # what the app reads
    assert operations.due_date(date(2026, 9, 1)) == date(2026, 10, 9)


def test_a_month_opened_after_its_deadline_gets_a_fair_one_and_nobody_is_late_at_once(
        district, freeze, make_user):
    # September 2026's regular deadline is 10-13; the office opens it only on Tuesday 10-20.
    freeze("2026-10-20T09:00")
    period = operations.open_month("2026-09", make_user("office"))
    db.session.commit()
    # Five working days after 10-20: 21, 22, 23, 26, 27.
    assert period.due_on == date(2026, 10, 27)
    assert jobs.run_monthly_dispatch(date(2026, 10, 20))["marked_late"] == 0
    for day in (21, 22, 23, 26, 27):
        assert operations.mark_late(period, date(2026, 10, day)) == 0
    assert _count(DispatchConfirmation, DispatchConfirmation.late.is_(True)) == 0
    assert operations.mark_late(period, date(2026, 10, 28)) == len(district.unit_list)
    # A month opened on time keeps the regular deadline.
    freeze("2026-11-02T09:00")
    october = operations.open_month("2026-10", None)
    assert october.due_on == operations.due_date(date(2026, 10, 1)) == date(2026, 11, 6)


def test_a_month_whose_deadline_needs_an_unknown_year_is_refused_not_guessed(
        client, login, make_user, district, freeze):
    # December 2026's deadline lies in January 2027, which nobody has entered yet.
    freeze("2026-12-01T09:00")
    counts = jobs.run_monthly_dispatch(date(2026, 12, 1))  # November: deadline 12-07, known
    assert counts["opened"] == 1 and "unknown_calendar_year" not in counts
    freeze("2027-01-04T09:00")
    counts = jobs.run_monthly_dispatch(date(2027, 1, 4))
    assert counts == {"unknown_calendar_year": 2027}
    login(make_user("office"))
    page = client.post("/dispatch/open", data={"month": "2026-12"}, follow_redirects=True)
    assert page.status_code == 200
    assert "2027年的工作日历尚未录入" in page.get_data(as_text=True)
    assert _count(DispatchPeriod) == 1  # November only


def test_the_deadline_rule_is_shown_with_its_setting_labelled_as_a_default(app):
    from flask import render_template_string

    app.config["DISPATCH_LATE_AFTER_WORKING_DAY"] = 7
    with app.test_request_context():
        html = render_template_string("{% include 'notices/_dispatch_deadline_rule.html' %}")
    assert "月末后第 7 个工作日" in html and "方案未规定，默认值，可调整" in html


def test_the_run_command_refuses_a_year_nobody_has_entered_and_writes_nothing(runner, district):
    """December 2026's dispatch opens on January 2027's first working day: with 2027's holidays
    unknown, `flask dispatch run` says so and exits non-zero instead of guessing a date."""
    result = runner.invoke(args=["dispatch", "run", "--now", "2027-01-08T08:00"])
    assert result.exit_code == 1
    assert "2027" in result.output and "Traceback" not in result.output
    assert _count(DispatchPeriod) == 0
