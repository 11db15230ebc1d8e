"""WorkCalendar counts in constant time per call with exactly the day-by-day answers
(weekends, holidays, make-up working days, admin overrides, years the package does not know)."""

import random
import time
from datetime import date, timedelta

import pytest

from taskflow.core.calendar import MAX_SCAN_DAYS, WorkCalendar

FIRST, LAST = date(2023, 1, 1), date(2027, 12, 31)
OVERRIDES = {
    date(2024, 3, 12): False,  # a Tuesday off
    date(2024, 3, 16): True,  # a Saturday worked
    date(2025, 10, 1): True,  # National Day worked (admin's choice)
    date(2026, 2, 14): False,  # a make-up Saturday cancelled
    date(2027, 1, 4): False,  # a year the package does not know
    date(2027, 1, 9): True,
}


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
    cal, reference = WorkCalendar(overrides), WorkCalendar(overrides)
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
    cal, reference = WorkCalendar(overrides), WorkCalendar(overrides)
    for day in days():
        for n in (-25, -10, -3, -2, -1, 0, 1, 2, 3, 5, 10, 25):
            assert cal.add_working_days(day, n) == naive_add(reference, day, n), (day, n)
    for n in (200, -200, 600, -600):
        assert cal.add_working_days(date(2025, 6, 30), n) == naive_add(reference, date(2025, 6, 30), n)
    # A fresh calendar asked about far-apart dates first extends its range both ways.
    fresh = WorkCalendar(overrides)
    assert fresh.add_working_days(date(2027, 12, 20), 10) == naive_add(reference, date(2027, 12, 20), 10)
    assert fresh.working_days_between(date(2023, 1, 1), date(2027, 12, 31)) == naive_between(
        reference, date(2023, 1, 1), date(2027, 12, 31))
    assert fresh.add_working_days(date(2023, 1, 3), -5) == naive_add(reference, date(2023, 1, 3), -5)


def test_the_ten_year_guard_is_kept():
    cal = WorkCalendar()
    with pytest.raises(ValueError):
        cal.working_days_between(date(2020, 1, 1), date(2020, 1, 1) + timedelta(days=MAX_SCAN_DAYS + 1))
    nobody_works = WorkCalendar({d: False for d in days(date(2030, 1, 1), date(2041, 12, 31))})
    with pytest.raises(ValueError):
        nobody_works.add_working_days(date(2030, 1, 1), 1)


def test_a_deadline_scan_of_many_milestones_is_fast():
    """100,000 counts over multi-year ranges (the city's milestones) in well under a second of
    counting: the old day-by-day loop needed seconds."""
    cal = WorkCalendar(OVERRIDES)
    rng = random.Random(1)
    pairs = [(FIRST + timedelta(days=rng.randrange(1800)), date(2026, 11, 17)) for _ in range(100_000)]
    started = time.perf_counter()
    total = sum(cal.working_days_between(due, today) for due, today in pairs)
    elapsed = time.perf_counter() - started
    assert total != 0
    assert elapsed < 2.0, f"{elapsed:.2f} s for 100,000 counts"
