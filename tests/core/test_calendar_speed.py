"""WorkCalendar counts in constant time per call with exactly the day-by-day answers
(weekends, holidays, make-up working days, admin overrides, a year the admin entered), and
refuses to count over a year nobody knows."""

import random
from datetime import date, timedelta

import pytest

from taskflow.core.calendar import MAX_SCAN_DAYS, UnknownCalendarYear, WorkCalendar

FIRST, LAST = date(2023, 1, 1), date(2027, 12, 31)
OVERRIDES = {
    date(2024, 3, 12): False,  # a Tuesday off
    date(2024, 3, 16): True,  # a Saturday worked
    date(2025, 10, 1): True,  # National Day worked (admin's choice)
    date(2026, 2, 14): False,  # a make-up Saturday cancelled
    date(2027, 1, 4): False,  # a year the package does not know, entered by the admin
    date(2027, 1, 9): True,
}
ENTERED = {2027, 2028}  # 2028 entered with no holidays: ranges that reach into it


def naive_between(cal, start, end):
    """The original day-by-day count: working days d with start < d <= end."""
    if end < start:
        return -naive_between(cal, end, start)
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        count += cal.is_workday(day)
        day += timedelta(days=1)
    return count


def naive_add(cal, day, n):
    step, remaining, current = (1 if n >= 0 else -1), abs(n), day
    while remaining:
        current += timedelta(days=step)
        if cal.is_workday(current):
            remaining -= 1
    return current


def days(first=FIRST, last=LAST):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@pytest.mark.parametrize("overrides", [{}, OVERRIDES], ids=["package", "with overrides"])
def test_counts_match_the_day_by_day_count_2023_to_2027(overrides):
    cal, reference = WorkCalendar(overrides, ENTERED), WorkCalendar(overrides, ENTERED)
    assert reference.is_workday(date(2024, 2, 4))  # a make-up Sunday is in the range
    assert not reference.is_workday(date(2024, 10, 1))
    offsets = list(range(-10, 11)) + [45, -45, 100, -100]
    for start in days():
        for offset in offsets:
            end = start + timedelta(days=offset)
            assert cal.working_days_between(start, end) == naive_between(reference, start, end), (
                start, end)
    rng = random.Random(7)
    span = (LAST - FIRST).days
    for _ in range(800):
        start = FIRST + timedelta(days=rng.randrange(span))
        end = FIRST + timedelta(days=rng.randrange(span))
        assert cal.working_days_between(start, end) == naive_between(reference, start, end)


@pytest.mark.parametrize("overrides", [{}, OVERRIDES], ids=["package", "with overrides"])
def test_add_working_days_matches_the_day_by_day_walk(overrides):
    cal, reference = WorkCalendar(overrides, ENTERED), WorkCalendar(overrides, ENTERED)
    for day in days():
        for n in (-25, -10, -3, -2, -1, 0, 1, 2, 3, 5, 10, 25):
            assert cal.add_working_days(day, n) == naive_add(reference, day, n), (day, n)
    for n in (200, -200, 600, -600):
        assert cal.add_working_days(date(2025, 6, 30), n) == naive_add(reference, date(2025, 6, 30), n)
    # A fresh calendar asked about far-apart dates first extends its range both ways.
    fresh = WorkCalendar(overrides, ENTERED)
    assert fresh.add_working_days(date(2027, 12, 10), 10) == naive_add(reference, date(2027, 12, 10), 10)
    assert fresh.working_days_between(date(2023, 1, 1), date(2027, 12, 31)) == naive_between(
        reference, date(2023, 1, 1), date(2027, 12, 31))
    assert fresh.add_working_days(date(2023, 1, 3), -5) == naive_add(reference, date(2023, 1, 3), -5)


def test_the_ten_year_guard_is_kept():
    cal = WorkCalendar()
    with pytest.raises(ValueError):
        cal.working_days_between(date(2010, 1, 1), date(2010, 1, 1) + timedelta(days=MAX_SCAN_DAYS + 1))
    years = range(2030, 2042)
    nobody_works = WorkCalendar({d: False for d in days(date(2030, 1, 1), date(2041, 12, 31))},
                                years)
    with pytest.raises(ValueError):
        nobody_works.add_working_days(date(2030, 1, 1), 1)


def test_a_year_nobody_knows_is_refused_never_guessed():
    cal = WorkCalendar(OVERRIDES)  # 2027 not entered: its overrides alone do not make it known
    assert cal.unknown_years(2023, 2028) == [2027, 2028]
    assert cal.knows(2026) and not cal.knows(2027) and not cal.knows(2003)
    for call in (lambda: cal.is_workday(date(2027, 1, 4)),
                 lambda: cal.is_workday(date(2027, 6, 1)),
                 lambda: cal.working_days_between(date(2026, 12, 20), date(2027, 1, 5)),
                 lambda: cal.working_days_between(date(2027, 1, 5), date(2026, 12, 20)),
                 lambda: cal.add_working_days(date(2026, 12, 28), 5),  # crosses New Year
                 lambda: cal.add_working_days(date(2027, 3, 1), -1),
                 lambda: cal.nth_workday_of_month(2027, 1, 1),
                 lambda: cal.next_workday(date(2027, 1, 1))):
        with pytest.raises(UnknownCalendarYear) as refused:
            call()
        assert refused.value.year == 2027
        assert "2027" in str(refused.value)
    # What needs only known days is still answered, right up to the year's last day.
    assert cal.working_days_between(date(2026, 12, 1), date(2026, 12, 31)) == 22
    assert cal.add_working_days(date(2026, 12, 24), 5) == date(2026, 12, 31)
    assert cal.working_days_between(date(2026, 12, 31), date(2026, 12, 31)) == 0
    # An entered year beyond an unknown one does not let a count jump over the gap.
    gap = WorkCalendar({}, {2028})
    with pytest.raises(UnknownCalendarYear) as refused:
        gap.add_working_days(date(2026, 12, 31), 300)
    assert refused.value.year == 2027
    with pytest.raises(UnknownCalendarYear):
        gap.working_days_between(date(2026, 6, 1), date(2028, 6, 1))
    assert gap.add_working_days(date(2028, 1, 10), -3) == date(2028, 1, 5)
    with pytest.raises(UnknownCalendarYear):
        gap.add_working_days(date(2028, 1, 10), -30)  # back into 2027


def test_a_deadline_scan_of_many_milestones_counts_in_constant_time(monkeypatch):
    """100,000 counts over multi-year ranges (the city's milestones) look at each day of the
    covered years once (building the prefix count), not once per count: the old day-by-day loop
    looked at ~500 days per count. Counted in operations, not seconds (shared machines)."""
    looked_at = []
    original = WorkCalendar._raw_workday

    def counting(self, day):
        looked_at.append(day)
        return original(self, day)

    monkeypatch.setattr(WorkCalendar, "_raw_workday", counting)
    cal = WorkCalendar(OVERRIDES)
    rng = random.Random(1)
    pairs = [(FIRST + timedelta(days=rng.randrange(1400)), date(2026, 11, 17)) for _ in range(100_000)]
    total = sum(cal.working_days_between(due, today) for due, today in pairs)
    assert total > 0
    covered = (date(2026, 12, 31) - FIRST).days + 1  # whole years 2023–2026
    assert len(looked_at) <= covered, len(looked_at)
    # Adding working days is as cheap: no further day is looked at within the covered years.
    before = len(looked_at)
    for due, _today in pairs[:20_000]:
        cal.add_working_days(due, 7)
    assert len(looked_at) == before
