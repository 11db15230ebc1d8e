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

from bisect import bisect_left
from datetime import date, timedelta

import chinese_calendar

MAX_SCAN_DAYS = 3660  # never loop for more than ten years


def base_is_workday(day: date) -> bool:
    """The package's answer, or Monday–Friday for a year it does not cover."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def _clamp(day: date, days: int) -> date:
    """`day` moved by `days`, kept within the dates Python can represent."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


class WorkCalendar:
    """A calendar with the admin overrides loaded once (one query), for loops over many days.

    Counting is O(1) per call: the calendar keeps, over whole years around the dates asked
    about, a prefix count of working days (`_prefix[i]`: working days in [_base, _base + i)),
    built on first use and extended (a year at a time) when a date falls outside it."""

    def __init__(self, overrides: dict[date, bool] | None = None):
        self.overrides = dict(overrides or {})
        self._cache: dict[date, bool] = {}
        self._base: date | None = None  # 1 January of the first covered year
        self._prefix: list[int] = [0]

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

    # ------------------------------------------------------------ the prefix count

    def _cover(self, first: date, last: date) -> None:
        """Make the prefix count cover every day from `first` to `last` (whole years)."""
        base = self._base
        if base is not None:
            end = base + timedelta(days=len(self._prefix) - 1)  # first day not covered
            if base <= first and last < end:
                return
            lo_year = min(first.year, base.year)
            hi_year = max(last.year, end.year - 1)
        else:
            lo_year, hi_year = first.year, last.year
        lo_year, hi_year = max(lo_year, date.min.year), min(hi_year, date.max.year)
        new_base = date(lo_year, 1, 1)
        days = (date(hi_year, 12, 31) - new_base).days + 1
        prefix = [0] * (days + 1)
        running = 0
        day = new_base
        one = timedelta(days=1)
        for i in range(days):
            if self.is_workday(day):
                running += 1
            prefix[i + 1] = running
            if i + 1 < days:
                day += one
        self._base, self._prefix = new_base, prefix

    def _index(self, day: date) -> int:
        return (day - self._base).days

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end; negative when end is before start."""
        if end == start:
            return 0
        if end < start:
            return -self.working_days_between(end, start)
        if (end - start).days > MAX_SCAN_DAYS:
            raise ValueError("date range too long")
        self._cover(start, end)
        prefix = self._prefix
        return prefix[self._index(end) + 1] - prefix[self._index(start) + 1]

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n < 0: before it; n = 0: `day` itself)."""
        if n == 0:
            return day
        # Cover a span that normally holds the answer (≤ 2 calendar days a working day, plus
        # the Spring Festival); widen it up to the ten-year guard when it does not.
        span = min(MAX_SCAN_DAYS, 2 * abs(n) + 40)
        while True:
            if n > 0:
                self._cover(day, _clamp(day, span))
            else:
                self._cover(_clamp(day, -span), day)
            found = self._find(day, n)
            if found is not None:
                return found
            if span >= MAX_SCAN_DAYS:
                raise ValueError("no working day found")
            span = min(MAX_SCAN_DAYS, span * 4)

    def _find(self, day: date, n: int) -> date | None:
        """The n-th working day from `day` when the covered range holds it within the ten-year
        guard, else None."""
        prefix = self._prefix
        at = self._index(day)
        if n > 0:
            target = prefix[at + 1] + n  # the first index j with prefix[j + 1] == target
            j = bisect_left(prefix, target) - 1
        else:
            target = prefix[at] + n + 1  # the working day x with prefix[x + 1] == target
            if target < 1:
                return None
            j = bisect_left(prefix, target) - 1
        if j < 0 or j + 1 >= len(prefix) or prefix[j + 1] != target:
            return None
        if abs(j - at) > MAX_SCAN_DAYS:
            return None
        return self._base + timedelta(days=j)

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
