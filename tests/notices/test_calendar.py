"""Chinese working days: weekends, public holidays, make-up days, admin overrides."""

from datetime import date

import pytest

from taskflow.core import calendar
from taskflow.core.calendar import WorkCalendar
from taskflow.extensions import db

D = date.fromisoformat


@pytest.mark.parametrize("day, working", [
    ("2024-02-04", True),   # Sunday, make-up day for the Spring Festival
    ("2024-02-09", True),   # Friday before the holiday (New Year's Eve was not a day off in 2024)
    ("2024-02-10", False), ("2024-02-14", False), ("2024-02-17", False),
    ("2024-02-18", True),   # Sunday, make-up day
    ("2024-09-14", True),   # Saturday, make-up day for Mid-Autumn
    ("2024-09-16", False),
    ("2024-09-29", True),   # Sunday, make-up day for National Day
    ("2024-10-01", False), ("2024-10-07", False),
    ("2024-10-12", True),   # Saturday, make-up day
    ("2024-10-13", False),  # an ordinary Sunday
    ("2024-10-14", True),
])
def test_the_national_calendar(app, day, working):
    assert WorkCalendar().is_workday(D(day)) is working
    assert calendar.is_workday(D(day)) is working


def test_counting_and_adding_working_days(app):
    cal = WorkCalendar()
    # (09-30, 10-08]: the whole National Day week is off → 1 working day.
    assert cal.working_days_between(D("2024-09-30"), D("2024-10-08")) == 1
    assert cal.working_days_between(D("2024-02-08"), D("2024-02-19")) == 3  # 9, 18, 19
    assert cal.working_days_between(D("2024-02-19"), D("2024-02-08")) == -3
    assert cal.working_days_between(D("2024-10-08"), D("2024-10-08")) == 0
    assert cal.add_working_days(D("2024-09-30"), 1) == D("2024-10-08")
    assert cal.add_working_days(D("2024-10-11"), 3) == D("2024-10-15")  # 12 (make-up), 14, 15
    assert cal.add_working_days(D("2024-10-08"), -1) == D("2024-09-30")
    assert cal.add_working_days(D("2024-10-05"), 0) == D("2024-10-05")
    assert cal.next_workday(D("2024-10-05")) == D("2024-10-08")
    assert cal.nth_workday_of_month(2024, 10, 1) == D("2024-10-08")
    assert cal.nth_workday_of_month(2024, 2, 5) == D("2024-02-06")  # 1, 2, 4 (Sunday), 5, 6
    assert cal.workday_number_in_month(D("2024-10-12")) == 5
    assert cal.workday_number_in_month(D("2024-10-13")) == 0


def test_years_nobody_knows_are_refused_not_guessed_as_weekdays(app):
    cal = WorkCalendar()
    for day in ("2040-01-02", "2040-01-07", "2027-10-04"):  # a Monday, a Sunday, 国庆 2027
        with pytest.raises(calendar.UnknownCalendarYear) as refused:
            cal.is_workday(D(day))
        assert refused.value.year == D(day).year
    with pytest.raises(calendar.UnknownCalendarYear):
        calendar.add_working_days(D("2026-12-30"), 3)
    assert calendar.unknown_years(2023, 2027) == [2027]
    # The message names the year and says what to do, in the user's language.
    with app.test_request_context():
        assert "2027" in calendar.UnknownCalendarYear(2027).message()
        assert "国务院" in calendar.UnknownCalendarYear(2027).message()


def test_admin_overrides_win_over_the_package(app, make_user):
    from taskflow.notices.operations import delete_workday_override, set_workday_override

    admin = make_user("admin")
    override = set_workday_override(D("2024-10-14"), False, "停电", admin)
    set_workday_override(D("2024-10-13"), True, "补班", admin)
    db.session.commit()
    cal = calendar.current()
    assert not cal.is_workday(D("2024-10-14")) and cal.is_workday(D("2024-10-13"))
    assert cal.add_working_days(D("2024-10-12"), 1) == D("2024-10-13")
    set_workday_override(D("2024-10-14"), True, "恢复", admin)  # changing keeps one row
    delete_workday_override(override, admin)
    db.session.commit()
    assert calendar.is_workday(D("2024-10-14")) and calendar.is_workday(D("2024-10-13"))


def test_outside_an_app_context_the_plain_calendar_is_used():
    assert calendar.add_working_days(D("2024-09-30"), 1) == D("2024-10-08")
