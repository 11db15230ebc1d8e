"""Working days in mainland China: weekends, public holidays and make-up working days (调休).

The base calendar is the `chinesecalendar` package (module `chinese_calendar`), which knows each
year's State Council holiday notice. An admin may override single days (table workday_overrides,
kept in taskflow/notices/models.py): the override wins. Years the package does not know yet fall
back to Monday–Friday, so the system keeps working until the package is upgraded.

Conventions used by every caller:
- working_days_between(start, end) counts the working days d with start < d <= end;
- add_working_days(day, n) is the n-th working day after `day` (n = 0: `day` itself).
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

MAX_SCAN_DAYS = 3660  # never loop for more than ten years


def base_is_workday(day: date) -> bool:
    """The package's answer, or Monday–Friday for a year it does not cover."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


class WorkCalendar:
    """A calendar with the admin overrides loaded once (one query), for loops over many days."""

    def __init__(self, overrides: dict[date, bool] | None = None):
        self.overrides = dict(overrides or {})
        self._cache: dict[date, bool] = {}

    @classmethod
    def load(cls) -> "WorkCalendar":
        """Read every override from the database (the table is small: a few rows a year)."""
        from sqlalchemy import select

        from taskflow.extensions import db
        from taskflow.notices.models import WorkdayOverride

        rows = db.session.execute(select(WorkdayOverride.day, WorkdayOverride.is_workday)).all()
        return cls({day: is_workday for day, is_workday in rows})

    def is_workday(self, day: date) -> bool:
        """True when `day` is a working day."""
        cached = self._cache.get(day)
        if cached is None:
            cached = self.overrides.get(day)
            if cached is None:
                cached = base_is_workday(day)
            self._cache[day] = cached
        return cached

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end; negative when end is before start."""
        if end == start:
            return 0
        if end < start:
            return -self.working_days_between(end, start)
        if (end - start).days > MAX_SCAN_DAYS:
            raise ValueError("date range too long")
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            if self.is_workday(day):
                count += 1
            day += timedelta(days=1)
        return count

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n < 0: before it; n = 0: `day` itself)."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        current = day
        guard = 0
        while remaining:
            current += timedelta(days=step)
            guard += 1
            if guard > MAX_SCAN_DAYS:
                raise ValueError("no working day found")
            if self.is_workday(current):
                remaining -= 1
        return current

    def next_workday(self, day: date) -> date:
        """`day` when it is a working day, else the first working day after it."""
        return day if self.is_workday(day) else self.add_working_days(day, 1)

    def nth_workday_of_month(self, year: int, month: int, n: int) -> date | None:
        """The n-th working day (1-based) of a month, or None when the month has fewer."""
        day = date(year, month, 1)
        seen = 0
        while day.month == month:
            if self.is_workday(day):
                seen += 1
                if seen == n:
                    return day
            day += timedelta(days=1)
        return None

    def workday_number_in_month(self, day: date) -> int:
        """1 for the month's first working day, 2 for the second, …; 0 when `day` is not one."""
        if not self.is_workday(day):
            return 0
        first = day.replace(day=1)
        return self.working_days_between(first - timedelta(days=1), day)


def current() -> WorkCalendar:
    """The calendar with the admin overrides (one query; none outside an app context)."""
    from flask import has_app_context

    return WorkCalendar.load() if has_app_context() else WorkCalendar()


def is_workday(day: date) -> bool:
    """True when `day` is a working day (overrides included)."""
    return current().is_workday(day)


def working_days_between(start: date, end: date) -> int:
    """Working days d with start < d <= end (overrides included)."""
    return current().working_days_between(start, end)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (overrides included)."""
    return current().add_working_days(day, n)
