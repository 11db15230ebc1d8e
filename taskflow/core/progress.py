"""Expected-to-date progress (序时进度) and traffic lights, as pure functions.

A yearly target is reached linearly from the prior year-end figure: on day d of year Y the
expected figure is base + (target - base) * fraction(d). Progress is measured on the increment,
so a stock of 1976 aiming at 2260 is 50 % done at 2118. Points behind = expected % - actual %
(nought when the figure is less than one whole unit short of the expected one);
yellow from LIGHT_YELLOW_POINTS, red from LIGHT_RED_POINTS (config, 10 and 30 by default).
"""

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"
# "daily": linear by day of the year; "monthly": by completed months (a month counts at its end).
MODES = ("daily", "monthly")
DEFAULT_YELLOW_POINTS = 10
DEFAULT_RED_POINTS = 30


def year_fraction(day: date, *, mode: str = "daily") -> float:
    """Share of the year elapsed at the end of `day` (Dec 31 → 1.0)."""
    if mode not in MODES:
        raise ValueError(f"unknown progress mode: {mode}")
    if mode == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        months = day.month if day.day == last else day.month - 1
        return months / 12
    days_in_year = 366 if calendar.isleap(day.year) else 365
    return day.timetuple().tm_yday / days_in_year


def expected_to_date(base: float, target: float, day: date, *, mode: str = "daily") -> float:
    """Where the figure should be at the end of `day`, on a straight line from base to target."""
    return base + (target - base) * year_fraction(day, mode=mode)


def completion_pct(actual: float, base: float, target: float) -> float:
    """Share of the year's increment achieved (%); when no growth is asked, share of the target."""
    if target > base:
        return (actual - base) / (target - base) * 100
    if target <= 0:
        return 100.0
    return min(actual / target, 1.0) * 100


def light_for_points(points_behind: float | None, *, yellow: float = DEFAULT_YELLOW_POINTS,
                     red: float = DEFAULT_RED_POINTS) -> str:
    """Green under `yellow` points behind, yellow under `red`, red from `red`; grey when unknown."""
    if points_behind is None:
        return GREY
    if points_behind >= red:
        return RED
    if points_behind >= yellow:
        return YELLOW
    return GREEN


@dataclass(frozen=True)
class Progress:
    """One figure measured against its yearly target on a given day."""

    actual: float
    base: float | None
    target: float | None
    expected: float | None
    completion_pct: float | None
    expected_pct: float | None
    points_behind: float | None
    light: str

    @property
    def has_target(self) -> bool:
        return self.target is not None


def assess(actual: float, base: float | None, target: float | None, day: date, *,
           yellow: float = DEFAULT_YELLOW_POINTS, red: float = DEFAULT_RED_POINTS,
           mode: str = "daily") -> Progress:
    """Actual vs the year's target and vs expected-to-date progress, with its light."""
    if target is None:
        return Progress(actual, base, None, None, None, None, None, GREY)
    base = 0.0 if base is None else base
    fraction = year_fraction(day, mode=mode)
    expected = expected_to_date(base, target, day, mode=mode)
    done = completion_pct(actual, base, target)
    if target > base:
        expected_pct = fraction * 100
    else:
        expected_pct = 100.0
    behind = max(0.0, expected_pct - done)
    if actual >= math.floor(expected + 1e-9):
        behind = 0.0  # counts are whole: less than one enterprise short is not behind
    return Progress(actual, base, target, expected, done, expected_pct, behind,
                    light_for_points(behind, yellow=yellow, red=red))


def interpolate_target(known: Mapping[int, float], year: int) -> float | None:
    """The target of `year`, straight between the nearest listed years (none outside them)."""
    if year in known:
        return known[year]
    before = [y for y in known if y < year]
    after = [y for y in known if y > year]
    if not before or not after:
        return None
    y0, y1 = max(before), min(after)
    v0, v1 = known[y0], known[y1]
    return v0 + (v1 - v0) * (year - y0) / (y1 - y0)


def thresholds(config: Mapping) -> dict:
    """yellow/red/mode keyword arguments for assess(), read from the app config."""
    return {
        "yellow": config.get("LIGHT_YELLOW_POINTS", DEFAULT_YELLOW_POINTS),
        "red": config.get("LIGHT_RED_POINTS", DEFAULT_RED_POINTS),
        "mode": config.get("PROGRESS_MODE", "daily"),
    }
