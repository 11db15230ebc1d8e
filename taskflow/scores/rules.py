"""The default rule set (the plan's 督查激励考核), parameter validation, periods and grades.

The plan documents define no points, weights, thresholds or timings: every number below is a
default of a versioned ScoreRuleSet (方案未规定，默认值，可调整), shown so on the rules page and on
every score card. docs/measures.md ("Scores") states the rules in plain words.

Points rules, all parameters of a ScoreRuleSet (DESIGN.md §6), read as of the period's end:
- base 100;
- task execution (working days, taskflow.measures.milestones):
  * a milestone closed in the period: on time, late by up to `grace_days` working days
    (late_minor) or later (late_major), against its original due date;
  * a milestone still open and overdue at the period's end: a deduction in that period and in
    every later period until it is closed, overdue_minor up to `overdue_major_days` working days
    overdue, overdue_major beyond;
  points per class for the lead and the responsible role, times the milestone's weight; the
  component never goes below `floor`;
- indicator completion: register figures at the period's end against expected-to-date progress
  towards the year's in-library target: −`points_per_10_behind` per 10 points behind, at most
  `max_deduction_per_indicator` per indicator. A unit without a target is scored on the
  components that apply to it, re-weighted (components.reweighted_indicator_items);
- responsiveness: urge notices whose answer was due in the period, answered on time / late / not answered by
  the response date, times a factor per notice level;
- quality: updates reviewed in the period: accepted at first submission (bonus), returned
  (deduction), returned for false reporting (−2 each), with a bonus cap and a floor;
- incentive: a year's in-library target reached (+ per indicator) and recognitions entered by the
  supervision team (their points, at most `recognition_max` each), capped at `cap`;
- adjustment: a supervisor's adjustment is at most `adjustment.max` points either way;
- governance: `second_person` (default off): locking and publishing scores, and publishing a
  bulletin, need a second confirmation by a different supervisor or office user.
Grades: five bands (五色图) by total, highest first.
"""

from __future__ import annotations

import calendar
import copy
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from taskflow.core.calendar import quarter_of

GRADE_CODES = ("green", "blue", "yellow", "orange", "red")

DEFAULT_RULE_NAME = "督查激励考核细则（默认）"

DEFAULT_PARAMETERS: dict = {
    "base": 100,
    "execution": {
        "grace_days": 5,  # working days late that still count as late_minor
        "overdue_major_days": 20,  # up to this many working days overdue: overdue_minor; beyond: major
        "lead": {"on_time": 0, "late_minor": -1, "late_major": -2, "overdue_minor": -3,
                 "overdue_major": -5},
        "responsible": {"on_time": 0, "late_minor": -0.5, "late_major": -1.5, "overdue_minor": -2,
                        "overdue_major": -3},
        "floor": -40,
    },
    "indicators": {
        "codes": ["tech_based", "high_tech"],
        "points_per_10_behind": 1,
        "max_deduction_per_indicator": 10,
    },
    "responsiveness": {
        "on_time": 0,
        "late": -1,
        "unanswered": -2,
        "level_factor": {"blue": 1, "yellow": 1, "red": 2},
        "floor": -20,
    },
    "quality": {
        "first_pass": 0.5,
        "return": -1,
        "false_reporting": -2,
        "bonus_cap": 5,
        "floor": -20,
    },
    "incentive": {"target_met": 2, "recognition_max": 5, "cap": 10},
    "adjustment": {"max": 20},
    "governance": {"second_person": False},
    "grades": [
        {"code": "green", "min": 95},
        {"code": "blue", "min": 90},
        {"code": "yellow", "min": 80},
        {"code": "orange", "min": 70},
        {"code": "red", "min": 0},
    ],
}


def default_parameters() -> dict:
    """A fresh copy of the default parameters."""
    return copy.deepcopy(DEFAULT_PARAMETERS)


def _merge(defaults, stored):
    if isinstance(defaults, dict) and isinstance(stored, dict):
        return {key: _merge(value, stored[key]) if key in stored else copy.deepcopy(value)
                for key, value in defaults.items()}
    return copy.deepcopy(stored)


def effective_parameters(stored: dict | None) -> dict:
    """A stored rule set's parameters with the defaults for any key it predates.

    A rule set saved before a parameter existed keeps its own values; the new parameter takes
    its default (and keys the rules no longer use are ignored), so older versions still compute.
    """
    return _merge(DEFAULT_PARAMETERS, stored or {})


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(template, value, path: str, errors: list[str]) -> None:
    if isinstance(template, dict):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
            return
        for key, sub in template.items():
            if key not in value:
                errors.append(f"{path}.{key}: missing")
            else:
                _check(sub, value[key], f"{path}.{key}", errors)
        for key in value:
            if key not in template:
                errors.append(f"{path}.{key}: unknown key")
    elif isinstance(template, list) and path.endswith("codes"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors.append(f"{path}: expected a list of indicator codes")
    elif isinstance(template, bool):
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true or false")
    elif _is_number(template):
        if not _is_number(value):
            errors.append(f"{path}: expected a number")


def validate_parameters(params) -> list[str]:
    """Problems with a parameter set (empty when it is usable)."""
    errors: list[str] = []
    template = {k: v for k, v in DEFAULT_PARAMETERS.items() if k != "grades"}
    if not isinstance(params, dict):
        return ["parameters: expected an object"]
    _check(template, {k: v for k, v in params.items() if k != "grades"}, "parameters", errors)
    grades = params.get("grades")
    if not isinstance(grades, list) or len(grades) != len(GRADE_CODES):
        errors.append("parameters.grades: expected five bands")
    else:
        codes = [g.get("code") if isinstance(g, dict) else None for g in grades]
        mins = [g.get("min") if isinstance(g, dict) else None for g in grades]
        if codes != list(GRADE_CODES):
            errors.append("parameters.grades: bands must be " + ", ".join(GRADE_CODES) + " in order")
        if not all(_is_number(m) for m in mins):
            errors.append("parameters.grades: every band needs a numeric min")
        elif any(mins[i] <= mins[i + 1] for i in range(len(mins) - 1)):
            errors.append("parameters.grades: minimums must fall from green to red")
    for role in ("lead", "responsible"):
        role_points = params.get("execution", {}).get(role, {})
        if isinstance(role_points, dict) and any(_is_number(v) and v > 0 for v in role_points.values()):
            errors.append(f"parameters.execution.{role}: points must be zero or negative")
    execution = params.get("execution", {})
    for key in ("grace_days", "overdue_major_days"):
        if _is_number(execution.get(key)) and execution[key] < 0:
            errors.append(f"parameters.execution.{key}: working days cannot be negative")
    for path, value in (("execution.floor", execution.get("floor")),
                        ("responsiveness.floor", params.get("responsiveness", {}).get("floor")),
                        ("quality.floor", params.get("quality", {}).get("floor"))):
        if _is_number(value) and value > 0:
            errors.append(f"parameters.{path}: a floor is zero or negative")
    adjustment = params.get("adjustment", {}).get("max")
    if _is_number(adjustment) and adjustment <= 0:
        errors.append("parameters.adjustment.max: must be more than zero")
    return errors


def grade_for(total, grades: list[dict]) -> str:
    """The five-colour band of a total (the first band whose minimum it reaches)."""
    value = float(total)
    for band in grades:
        if value >= band["min"]:
            return band["code"]
    return grades[-1]["code"]


def points(value) -> Decimal:
    """A number of points, rounded half-up to two decimals."""
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- periods

PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2})|Q([1-4]))?$")


@dataclass(frozen=True)
class Period:
    """A month (2024-03), a quarter (2024Q1) or a year (2024)."""

    key: str
    kind: str
    year: int
    starts_on: date
    ends_on: date

    def as_of(self, today: date) -> date:
        """The day facts are read as of: the period's end, or today while it runs."""
        return min(self.ends_on, today)

    def previous(self) -> "Period":
        """The period of the same kind just before this one."""
        return parse_period_key(previous_key(self.key))

    def months(self) -> list["Period"]:
        """The months inside this period."""
        result = []
        month = self.starts_on
        while month <= self.ends_on:
            result.append(parse_period_key(f"{month.year}-{month.month:02d}"))
            month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        return result


class PeriodError(ValueError):
    """A period key that is not YYYY, YYYY-MM or YYYYQn."""


def parse_period_key(key: str) -> Period:
    """Parse 2024-03, 2024Q1 or 2024."""
    match = PERIOD_RE.match((key or "").strip())
    if not match:
        raise PeriodError(f"not a period: {key!r} (use 2024-03, 2024Q1 or 2024)")
    year = int(match.group(1))
    if year < 1:  # 0000 matches the pattern but is no calendar year
        raise PeriodError(f"not a year: {key!r}")
    if match.group(2):
        month = int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"not a month: {key!r}")
        last = calendar.monthrange(year, month)[1]
        return Period(f"{year}-{month:02d}", "month", year, date(year, month, 1), date(year, month, last))
    if match.group(3):
        quarter = int(match.group(3))
        first = 3 * quarter - 2
        last_month = first + 2
        last = calendar.monthrange(year, last_month)[1]
        return Period(f"{year}Q{quarter}", "quarter", year, date(year, first, 1),
                      date(year, last_month, last))
    return Period(str(year), "year", year, date(year, 1, 1), date(year, 12, 31))


def previous_key(key: str) -> str:
    """2024-03 → 2024-02, 2024Q1 → 2023Q4, 2024 → 2023."""
    period = parse_period_key(key)
    if period.kind == "month":
        prior = period.starts_on - timedelta(days=1)
        return f"{prior.year}-{prior.month:02d}"
    if period.kind == "quarter":
        quarter = int(key[-1])
        return f"{period.year - 1}Q4" if quarter == 1 else f"{period.year}Q{quarter - 1}"
    return str(period.year - 1)


def periods_containing(day: date) -> list[Period]:
    """The month, quarter and year that contain `day`."""
    _year, quarter = quarter_of(day)
    return [parse_period_key(f"{day.year}-{day.month:02d}"),
            parse_period_key(f"{day.year}Q{quarter}"), parse_period_key(str(day.year))]
