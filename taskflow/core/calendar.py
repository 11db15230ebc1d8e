"""Working days in mainland China: weekends, public holidays and make-up working days (调休).

A year is *known* when its official State Council arrangement (国务院办公厅关于YYYY年部分节假日
安排的通知) is available:
- from the `chinesecalendar` package (module `chinese_calendar`), which ships each year's notice
  as data (1.11.0: 2004–2026); or
- from the administrator, who pasted that year's notice on the calendar page (table calendar_years;
  its rest days and make-up working days are stored as workday_overrides on top of Monday–Friday).

For a year nobody knows the calendar does NOT guess: every function that needs a day of such a
year raises UnknownCalendarYear, and callers refuse with its message (docs/measures.md, "Working
days and deadlines"). An admin may also override single days (table workday_overrides, kept in
taskflow/core/models.py): the override wins within a known year.

Conventions used by every caller:
- working_days_between(start, end) counts the working days d with start < d <= end (so it needs
  the years of start + 1 day … end);
- add_working_days(day, n) is the n-th working day after `day` (n = 0: `day` itself; it needs the
  days strictly between `day` and the answer, and the answer).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar
from chinese_calendar.constants import holidays as _package_holidays

MAX_SCAN_DAYS = 3660  # never loop for more than ten years

# The years whose official arrangement the package ships (contiguous in every release so far).
LIBRARY_FIRST_YEAR = min(_package_holidays).year
LIBRARY_LAST_YEAR = max(_package_holidays).year


class UnknownCalendarYear(LookupError):
    """A working-day computation needs a year whose official holiday arrangement nobody has
    entered: the system refuses rather than guess Monday–Friday.

    `years` lists the unknown years involved (at least the first one met); `message()` is the
    translated sentence for pages, logs and commands."""

    def __init__(self, years: int | Iterable[int]):
        self.years = sorted({years} if isinstance(years, int) else set(years))
        self.year = self.years[0]
        super().__init__(self.years)

    def years_text(self) -> str:
        return "、".join(str(y) for y in self.years)

    def __str__(self) -> str:  # logs, tracebacks: English, no app context needed
        return (f"the working-day calendar of {self.years_text()} is not known: the administrator "
                "must enter the State Council's holiday arrangement for that year")

    def message(self) -> str:
        """The refusal in the user's language (needs an app context for the translation)."""
        try:
            from flask_babel import gettext as _

            return _("The working-day calendar of %(years)s is not known yet: the administrator "
                     "must enter the State Council's holiday arrangement for that year on the "
                     "Holiday arrangements page. Until then, nothing that counts working days in that "
                     "year is computed.", years=self.years_text())
        except (RuntimeError, KeyError):  # outside an app or request context
            return str(self)


def quarter_of(day: date) -> tuple[int, int]:
    """(year, quarter 1–4) of a date."""
    return day.year, (day.month - 1) // 3 + 1


def library_knows(year: int) -> bool:
    """True when the package ships the official arrangement of `year`."""
    return LIBRARY_FIRST_YEAR <= year <= LIBRARY_LAST_YEAR


def base_is_workday(day: date) -> bool:
    """The package's answer; UnknownCalendarYear for a year it does not ship."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise UnknownCalendarYear(day.year) from None


def _clamp(day: date, days: int) -> date:
    """`day` moved by `days`, kept within the dates Python can represent."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


class WorkCalendar:
    """A calendar with the admin overrides and entered years loaded once (one query), for loops
    over many days.

    `entered_years`: years whose arrangement the admin entered (their rest days and make-up
    working days are among `overrides`; the other days follow Monday–Friday).

    Counting is O(1) per call: the calendar keeps, over whole years around the dates asked
    about, a prefix count of working days (`_prefix[i]`: working days in [_base, _base + i)),
    built on first use and extended (a year at a time) when a date falls outside it. Days of
    unknown years count as 0 there; every call checks first that the years it needs are known,
    so those zeros never reach an answer."""

    def __init__(self, overrides: dict[date, bool] | None = None,
                 entered_years: Iterable[int] = ()):
        self.overrides = dict(overrides or {})
        self.entered_years = frozenset(entered_years)
        self._cache: dict[date, bool] = {}
        self._base: date | None = None  # 1 January of the first covered year
        self._prefix: list[int] = [0]
        # The run of known years around the last year checked: most calls stay inside it.
        self._run: tuple[int, int] = (1, 0)

    @classmethod
    def load(cls) -> "WorkCalendar":
        """Read every override and every entered year from the database in one query (both
        tables are small: a few rows a year)."""
        from sqlalchemy import Boolean, Date, Integer, cast, null, select, union_all

        from taskflow.extensions import db
        from taskflow.core.models import CalendarYear, WorkdayOverride

        rows = db.session.execute(union_all(
            select(WorkdayOverride.day, WorkdayOverride.is_workday,
                   cast(null(), Integer).label("year")),
            select(cast(null(), Date), cast(null(), Boolean), CalendarYear.year),
        )).all()
        overrides = {day: bool(working) for day, working, _year in rows if day is not None}
        return cls(overrides, {year for _d, _w, year in rows if year is not None})

    # ------------------------------------------------------------ which years are known

    def knows(self, year: int) -> bool:
        """True when the official arrangement of `year` is known (package or admin)."""
        return library_knows(year) or year in self.entered_years

    def unknown_years(self, first: int, last: int) -> list[int]:
        """The years from `first` to `last` (inclusive) nobody knows, in order."""
        return [year for year in range(first, last + 1) if not self.knows(year)]

    def require_years(self, first: int, last: int) -> None:
        """Raise UnknownCalendarYear when a year from `first` to `last` is unknown."""
        lo, hi = self._run
        if lo <= first and last <= hi:
            return
        missing = self.unknown_years(first, last)
        if missing:
            raise UnknownCalendarYear(missing)
        # Remember the whole run of known years around them (bounded walk).
        lo, hi = first, last
        while lo - 1 >= date.min.year and last - lo < 200 and self.knows(lo - 1):
            lo -= 1
        while hi + 1 <= date.max.year and hi - first < 200 and self.knows(hi + 1):
            hi += 1
        self._run = (lo, hi)

    def _raw_workday(self, day: date) -> bool:
        """The answer for a day of a known year (override, package, or Monday–Friday for a year
        the admin entered); False for an unknown year (never used in an answer)."""
        cached = self._cache.get(day)
        if cached is None:
            cached = self.overrides.get(day)
            if cached is None:
                if library_knows(day.year):
                    cached = base_is_workday(day)
                elif day.year in self.entered_years:
                    cached = day.weekday() < 5
                else:
                    return False
            self._cache[day] = cached
        return cached

    def is_workday(self, day: date) -> bool:
        """True when `day` is a working day; UnknownCalendarYear when its year is unknown."""
        if not self.knows(day.year):
            raise UnknownCalendarYear(day.year)
        return self._raw_workday(day)

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
        raw = self._raw_workday
        for i in range(days):
            if raw(day):
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
        lo, hi = self._run
        if not (lo <= start.year and end.year <= hi):  # fast path: inside the known run
            self.require_years(_clamp(start, 1).year, end.year)
        self._cover(start, end)
        prefix = self._prefix
        return prefix[self._index(end) + 1] - prefix[self._index(start) + 1]

    def _frontier(self, day: date, forward: bool) -> date:
        """The last known day reachable from `day` without crossing an unknown year, looking at
        most ten years ahead (or back); `day` itself when the next day's year is unknown."""
        step = 1 if forward else -1
        year = _clamp(day, step).year
        limit = _clamp(day, step * MAX_SCAN_DAYS).year
        while self.knows(year):
            if year == limit:
                return _clamp(day, step * MAX_SCAN_DAYS)
            year += step
        if forward:
            return max(day, date(year - 1, 12, 31)) if year > date.min.year else day
        return min(day, date(year + 1, 1, 1)) if year < date.max.year else day

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n < 0: before it; n = 0: `day` itself).

        UnknownCalendarYear when the answer lies beyond the first unknown year in that
        direction (or within it)."""
        if n == 0:
            return day
        # Fast path: the prefix count already holds the answer, and the day and the answer lie in
        # the run of known years checked before (so every day between them is known).
        lo, hi = self._run
        base = self._base
        if base is not None and lo <= day.year <= hi and base <= day \
                and (day - base).days + 1 < len(self._prefix):
            found = self._find(day, n)
            if found is not None and lo <= found.year <= hi:
                return found
        forward = n > 0
        frontier = self._frontier(day, forward)
        # Cover a span that normally holds the answer (≤ 2 calendar days a working day, plus
        # the Spring Festival); widen it up to the ten-year guard when it does not.
        span = min(MAX_SCAN_DAYS, 2 * abs(n) + 40)
        while True:
            if forward:
                stop = min(_clamp(day, span), frontier)
                self._cover(day, stop)
            else:
                stop = max(_clamp(day, -span), frontier)
                self._cover(stop, day)
            found = self._find(day, n)
            if found is not None and (found <= frontier if forward else found >= frontier):
                after = _clamp(day, 1 if forward else -1)  # the first day the answer needs
                self.require_years(min(after, found).year, max(after, found).year)  # remember run
                return found
            if stop == frontier and (frontier - day).days * (1 if forward else -1) < MAX_SCAN_DAYS:
                # The answer lies beyond the frontier: in (or past) a year nobody knows.
                raise UnknownCalendarYear(_clamp(frontier, 1 if forward else -1).year)
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
        self.require_years(year, year)
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
    """The calendar with the admin overrides and entered years (one query; outside an app
    context, the package's years only)."""
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


def unknown_years(first: int, last: int) -> list[int]:
    """The years from `first` to `last` whose arrangement nobody knows (one query)."""
    return current().unknown_years(first, last)
