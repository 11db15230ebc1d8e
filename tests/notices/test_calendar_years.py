"""Years of the working-day calendar: the State Council notice read by the parser, the admin's
entry page (preview, confirm, refusal of bad text), the banner about unknown years, and the
jobs that refuse a year nobody knows until it is entered.

The texts in notices_text/ are the State Council's 2025 and 2026 notices as published. The
parser is proved by comparing every day of the year it reads with chinesecalendar's data for
that year. To exercise the entry of a year the package does not know without inventing an
official arrangement, some tests pretend the package stops earlier (LIBRARY_LAST_YEAR patched)
and enter the real 2025 / 2026 notices.
"""

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from flask import template_rendered
from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.core import calendar as work_calendar
from taskflow.core import clock
from taskflow.core.calendar import WorkCalendar
from taskflow.core.models import CalendarYear, WorkdayOverride
from taskflow.extensions import db
from taskflow.notices import jobs, operations
from taskflow.notices.holiday_notice import NoticeParseError, parse_notice
from taskflow.notices.models import ReminderClaim

D = date.fromisoformat
TEXTS = Path(__file__).parent / "notices_text"


def notice(year: int) -> str:
    return (TEXTS / f"{year}.txt").read_text(encoding="utf-8")


def every_day(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def package_stops_at(monkeypatch):
    """package_stops_at(2024): the calendar package pretends to know nothing after that year."""

    def stop(year: int):
        monkeypatch.setattr(work_calendar, "LIBRARY_LAST_YEAR", year)

    return stop


# ---------------------------------------------------------------- the parser


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_parsed_notice_equals_the_official_calendar_on_every_day(app, year):
    with app.test_request_context():
        arrangement = parse_notice(notice(year), year)
    differences = [day for day in every_day(year)
                   if arrangement.is_workday(day) != chinese_calendar.is_workday(day)]
    assert differences == []
    assert len(arrangement.holidays) in (6, 7)


def test_the_parser_reads_ranges_across_months_and_single_days(app):
    with app.test_request_context():
        arrangement = parse_notice(notice(2025))
    by_name = {h.name: h for h in arrangement.holidays}
    assert (by_name["元旦"].first, by_name["元旦"].last, by_name["元旦"].make_up) == (
        D("2025-01-01"), D("2025-01-01"), [])
    assert (by_name["端午节"].first, by_name["端午节"].last) == (D("2025-05-31"), D("2025-06-02"))
    assert by_name["国庆节、中秋节"].make_up == [D("2025-09-28"), D("2025-10-11")]
    assert arrangement.year == 2025  # from the title


def test_older_wording_and_a_notice_pasted_on_one_line_are_read(app):
    with app.test_request_context():
        # The 2012 wording: 星期, and a make-up day of the year before, with its year written.
        older = parse_notice("一、元旦：1月1日至3日放假调休，共3天。2011年12月31日（星期六）上班。", 2012)
        one_line = parse_notice(notice(2026).replace("\n", ""))
    assert (older.rest_days, older.make_up_days) == (
        [D("2012-01-01"), D("2012-01-02"), D("2012-01-03")], [D("2011-12-31")])
    assert [d for d in every_day(2026)
            if one_line.is_workday(d) != chinese_calendar.is_workday(d)] == []


@pytest.mark.parametrize("text, year, fragment", [
    ("今天天气很好。", 2026, "未找到任何节日安排"),
    ("", 2026, "未找到任何节日安排"),
    # A wrong weekday: 2026-01-01 is a Thursday.
    ("一、元旦：1月1日（周五）至3日（周六）放假调休，共3天。", 2026, "2026-01-01 不是“周五”"),
    # The stated count disagrees with the range.
    ("一、元旦：1月1日（周四）至4日（周日）放假调休，共3天。", 2026, "共 4 天，但原文写的是 3 天"),
    # The notice of another year.
    (None, 2027, "是2026年的通知，不是2027年的"),
    # A date that does not exist.
    ("一、元旦：2月30日放假1天。", 2026, "不是有效日期"),
    # A sentence about rest days that cannot be read.
    ("一、元旦：1月1日起放假若干天。", 2026, "无法读取放假日期"),
])
def test_unreadable_text_is_refused_with_the_reason(app, text, year, fragment):
    """Each reason is given in the user's language (Chinese by default)."""
    with app.test_request_context():
        with pytest.raises(NoticeParseError) as refused:
            parse_notice(notice(2026) if text is None else text, year)
    assert any(fragment in problem for problem in refused.value.problems), refused.value.problems


# ---------------------------------------------------------------- the entry page


def test_admin_previews_then_confirms_a_year_and_the_calendar_then_knows_it(
        app, client, login, make_user, plan, package_stops_at):
    package_stops_at(2025)
    admin = make_user("admin")
    login(admin)
    page = client.get("/notices/calendar/years")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-year="2026" data-source="unknown"' in html
    assert 'data-year="2025" data-source="library"' in html

    preview = client.post("/notices/calendar/years", data={"year": "2026", "text": notice(2026)})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert 'data-preview="2026"' in html
    assert 'data-holiday="2026-02-15"' in html and 'data-make-up="2026-02-28"' in html
    assert _count(CalendarYear) == 0 and _count(WorkdayOverride) == 0  # a preview writes nothing
    with pytest.raises(work_calendar.UnknownCalendarYear):
        WorkCalendar.load().is_workday(D("2026-03-02"))

    saved = client.post("/notices/calendar/years",
                        data={"year": "2026", "text": notice(2026), "confirm": "1"})
    assert saved.status_code == 302
    db.session.expire_all()
    row = db.session.scalar(select(CalendarYear))
    assert (row.year, row.entered_by_id, row.source) == (2026, admin.id, "notice")
    assert "国务院办公厅关于2026年部分节假日安排的通知" in row.notice_text
    assert _count(AuditEvent, AuditEvent.action == "notices.calendar_year") == 1
    cal = WorkCalendar.load()
    assert cal.knows(2026)
    assert [d for d in every_day(2026)
            if cal.is_workday(d) != chinese_calendar.is_workday(d)] == []
    assert 'data-year="2026" data-source="notice"' in client.get(
        "/notices/calendar/years").get_data(as_text=True)


def test_entering_a_year_again_replaces_what_its_earlier_notice_wrote(
        app, world, package_stops_at):
    package_stops_at(2024)
    admin = world.users.admin
    operations.set_workday_override(D("2025-03-03"), False, "停电", admin)  # by hand: kept
    with app.test_request_context():
        # A first, wrong entry: 国庆 without its make-up days (the admin left out a sentence).
        wrong = notice(2025).replace("9月28日（周日）、10月11日（周六）上班。", "")
        operations.enter_calendar_year(wrong, 2025, admin)
        db.session.commit()
        assert WorkCalendar.load().is_workday(D("2025-09-28")) is False
        operations.enter_calendar_year(notice(2025), 2025, admin)
        db.session.commit()
    cal = WorkCalendar.load()
    assert cal.is_workday(D("2025-09-28")) is True
    assert cal.is_workday(D("2025-03-03")) is False  # the hand-made override stays
    assert _count(CalendarYear) == 1
    assert [d for d in every_day(2025) if d != D("2025-03-03")
            and cal.is_workday(d) != chinese_calendar.is_workday(d)] == []


def test_bad_text_gives_a_form_error_and_writes_nothing(app, client, login, make_user,
                                                        package_stops_at):
    package_stops_at(2025)
    login(make_user("admin"))
    for data in ({"year": "2026", "text": "一、元旦：1月1日（周五）至3日放假，共3天。", "confirm": "1"},
                 {"year": "2026", "text": "请假条"},
                 {"year": "2027", "text": notice(2026), "confirm": "1"},
                 {"year": "2026", "text": ""}):
        response = client.post("/notices/calendar/years", data=data)
        assert response.status_code == 400, data
        assert "invalid-feedback" in response.get_data(as_text=True)
    assert _count(CalendarYear) == 0 and _count(WorkdayOverride) == 0
    assert _count(AuditEvent, AuditEvent.action == "notices.calendar_year") == 0


def test_the_office_may_look_but_only_the_admin_enters(app, client, login, make_user, make_unit,
                                                       plan):
    office = make_user("office")
    login(office)
    page = client.get("/notices/calendar/years")
    assert page.status_code == 200
    assert 'data-year="2027" data-source="unknown"' in page.get_data(as_text=True)
    assert 'name="text"' not in page.get_data(as_text=True)
    assert client.post("/notices/calendar/years",
                       data={"year": "2026", "text": notice(2026), "confirm": "1"}).status_code == 403
    client.post("/logout")
    login(make_user("reporter", unit=make_unit(name="某街道"), username="someone"))
    assert client.get("/notices/calendar/years").status_code == 403
    assert _count(CalendarYear) == 0


def test_the_three_week_strip_shows_unknown_days_as_unknown(app, client, login, make_user):
    with clock.frozen_at(clock.parse_now("2026-12-25T09:00")):
        login(make_user("admin"))
        html = client.get("/notices/calendar").get_data(as_text=True)
    assert 'data-day="2026-12-31" data-working="1"' in html
    assert 'data-day="2027-01-01" data-working="unknown"' in html


# ---------------------------------------------------------------- the banner


def _banner(html: str) -> str | None:
    marker = 'data-calendar-banner="'
    if marker not in html:
        return None
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def test_the_banner_follows_the_calendar_on_every_request_whatever_the_cached_bar(
        app, client, login, make_user, plan, package_stops_at, count_queries):
    """Plan 2023–2026, today 2025-03-03, the package pretending to stop at 2024: 2025 and 2026
    are unknown. The banner names them on every page for the office, and changes at the next
    request once the admin enters a year, although the navigation bar is served from the
    worker's cache (rendered once)."""
    package_stops_at(2024)
    plan.end_year = 2026
    db.session.commit()
    office, admin = make_user("office"), make_user("admin", username="admin2")
    rendered = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    template_rendered.connect(record, app)
    try:
        with clock.frozen_at(clock.parse_now("2025-03-03T09:00")):
            login(office)
            with count_queries() as counter:
                first = client.get("/account")
            assert _banner(first.get_data(as_text=True)) == "2025,2026"
            # No query of its own: what it needs comes with the signed-in user's row.
            calendar_statements = [s for s in counter.statements if "calendar_years" in s]
            assert calendar_statements and all("users" in s for s in calendar_statements)
            assert "/notices/calendar/years" in first.get_data(as_text=True)
            assert _banner(client.get("/notices/overdue").get_data(as_text=True)) == "2025,2026"

            with app.test_request_context():
                operations.enter_calendar_year(notice(2025), 2025, admin)
            db.session.commit()
            assert _banner(client.get("/account").get_data(as_text=True)) == "2026"
            with app.test_request_context():
                operations.enter_calendar_year(notice(2026), 2026, admin)
            db.session.commit()
            assert _banner(client.get("/account").get_data(as_text=True)) is None
    finally:
        template_rendered.disconnect(record, app)
    assert rendered.count("_navigation.html") == 2  # /account once, /notices/overdue once


def test_only_the_admin_and_the_office_see_the_banner(app, client, login, make_user, make_unit):
    # Today (2026-12-01) the plan (2023–2027) needs 2027, which the package does not know.
    login(make_user("admin"))
    assert _banner(client.get("/account").get_data(as_text=True)) == "2027"
    for role in ("leader", "supervisor", "reporter"):
        client.post("/logout")
        unit = make_unit(name=f"单位{role}") if role == "reporter" else None
        login(make_user(role, unit=unit, username=f"u_{role}"))
        assert _banner(client.get("/account").get_data(as_text=True)) is None, role


# ---------------------------------------------------------------- jobs refuse, then work


def test_scan_refuses_an_unknown_year_and_works_once_it_is_entered(
        app, runner, world, milestone_at, sim, package_stops_at):
    package_stops_at(2025)
    milestone = milestone_at(D("2026-01-09"), "元旦后节点")
    # 2026-01-02 is a Friday: Monday–Friday would call it a working day; the notice says rest.
    refused = runner.invoke(args=["reminders", "scan", "--now", "2026-01-02T08:30"])
    assert refused.exit_code == 1
    assert "unknown_calendar_year=2026" in refused.output
    assert "2026" in refused.output and "国务院" in refused.output  # the message, in Chinese
    assert _count(ReminderClaim) == 0
    # The scheduler's call returns instead of raising, and the refusal is logged.
    with clock.frozen_at(sim.at(D("2025-12-29"))):
        counts = jobs.scan_deadlines()  # its 7-working-day horizon reaches 2026
    assert counts == {"unknown_calendar_year": 2026}
    assert "2026" in str(counts.refusal)
    assert jobs.request_updates(D("2026-01-05")) == {"unknown_calendar_year": 2026}

    with app.test_request_context():
        operations.enter_calendar_year(notice(2026), 2026, world.users.admin)
    db.session.commit()
    day_off = runner.invoke(args=["reminders", "scan", "--now", "2026-01-02T08:30"])
    assert day_off.exit_code == 0 and "day_off=1" in day_off.output
    working = runner.invoke(args=["reminders", "scan", "--now", "2026-01-05T08:30"])
    assert working.exit_code == 0, working.output
    # 01-05 … 01-09: 4 working days left (6, 7, 8, 9) → the 7-day reminder.
    assert sim.sent_ladder(milestone.id) == [("due_7", "2026-01-05")]


def test_pages_never_fail_because_of_an_unknown_year(app, world, milestone_at, client_for, sim):
    """January 2027, nobody has entered 2027: the notices pages still answer, and say why
    working days are not counted."""
    milestone_at(D("2026-12-15"), "年底节点")
    with clock.frozen_at(sim.at(D("2027-01-05"), 10, 0)):
        office = client_for(world.users.office)
        overdue = office.get("/notices/overdue")
        assert overdue.status_code == 200
        assert "2027年的工作日历尚未录入" in overdue.get_data(as_text=True)
        assert _banner(overdue.get_data(as_text=True)) == "2027,2028"  # and the next year
        for url in ("/notices/", "/notices/calendar/years", "/notices/inbox"):
            assert office.get(url).status_code == 200, url
        admin = client_for(world.users.admin)
        strip = admin.get("/notices/calendar")
        assert strip.status_code == 200
        assert 'data-day="2027-01-05" data-working="unknown"' in strip.get_data(as_text=True)
