"""Credit codes (GB 32100-2015) and expected-to-date progress: pure functions."""

import random
from datetime import date

import pytest

from taskflow.core import progress as prog
from taskflow.enterprises import creditcode


def test_a_published_code_is_valid_and_normalised():
    assert creditcode.problem("91350100M000100Y43") is None
    assert creditcode.is_valid(" 91350100m000100y43 ")


@pytest.mark.parametrize("code, kind, detail", [
    ("", "empty", {}),
    ("91350100M000100Y4", "length", {"length": 17}),
    ("91350100M000100Y433", "length", {"length": 19}),
    ("91350100M0001O0Y43", "character", {"position": 14, "character": "O"}),
    ("91350100I000100Y43", "character", {"position": 9, "character": "I"}),
    ("91350100M000100Y44", "check_digit", {"expected": "3", "character": "4"}),
])
def test_bad_codes_say_precisely_what_is_wrong(app, code, kind, detail):
    problem = creditcode.problem(code)
    assert problem.kind == kind
    for key, value in detail.items():
        assert getattr(problem, key) == value
    with app.test_request_context():
        message = problem.message()
    assert message
    if kind == "check_digit":
        assert "3" in message and "18" in message
    if kind == "character":
        assert str(detail["position"]) in message


def test_generated_codes_are_valid_distinct_and_reproducible():
    codes = creditcode.generate_unique(2000, seed=5)
    assert len(set(codes)) == 2000
    assert all(creditcode.is_valid(c) for c in codes)
    assert codes == creditcode.generate_unique(2000, seed=5)
    # Changing any single character breaks the check (except to the same value).
    rng = random.Random(1)
    for code in codes[:200]:
        i = rng.randrange(17)
        other = rng.choice([c for c in creditcode.CHARSET if c != code[i]])
        assert not creditcode.is_valid(code[:i] + other + code[i + 1:])


def test_check_digit_31_maps_to_zero():
    # Find a body whose weighted sum is a multiple of 31: its check character is "0".
    rng = random.Random(3)
    while True:
        body = "".join(rng.choice(creditcode.CHARSET) for _ in range(17))
        total = sum(creditcode.CHARSET.index(c) * w for c, w in zip(body, creditcode.WEIGHTS))
        if total % 31 == 0:
            break
    assert creditcode.check_digit(body) == "0"
    assert creditcode.is_valid(body + "0")


def test_year_fraction_daily_and_monthly():
    assert prog.year_fraction(date(2023, 12, 31)) == 1.0
    assert prog.year_fraction(date(2023, 7, 2)) == pytest.approx(183 / 365)
    assert prog.year_fraction(date(2024, 3, 31), mode="monthly") == pytest.approx(0.25)
    assert prog.year_fraction(date(2024, 3, 30), mode="monthly") == pytest.approx(2 / 12)
    with pytest.raises(ValueError):
        prog.year_fraction(date(2024, 1, 1), mode="weekly")


def test_expected_to_date_is_linear_from_the_prior_year_end():
    # 1976 at the end of 2022, 2260 targeted for 2023: mid-year expects half of the increase.
    assert prog.expected_to_date(1976, 2260, date(2023, 6, 30), mode="monthly") == 2118
    p = prog.assess(2118, 1976, 2260, date(2023, 6, 30), mode="monthly")
    assert p.completion_pct == pytest.approx(50) and p.points_behind == 0 and p.light == "green"


@pytest.mark.parametrize("actual, light", [(2260, "green"), (2090, "green"), (2080, "yellow"),
                                           (2034, "yellow"), (2032, "red"), (1950, "red")])
def test_lights_by_points_behind(actual, light):
    # At 2023-06-30 (monthly) 50 % is expected; 10 points behind → yellow, 30 → red.
    p = prog.assess(actual, 1976, 2260, date(2023, 6, 30), mode="monthly", yellow=10, red=30)
    assert p.light == light


def test_thresholds_are_configurable_and_no_target_is_grey():
    p = prog.assess(2080, 1976, 2260, date(2023, 6, 30), mode="monthly", yellow=20, red=40)
    assert p.light == "green"
    assert prog.assess(5, 0, None, date(2023, 6, 30)).light == "grey"
    assert prog.thresholds({"LIGHT_YELLOW_POINTS": 5, "LIGHT_RED_POINTS": 15}) == {
        "yellow": 5, "red": 15, "mode": "daily"}


def test_a_target_without_growth_is_judged_on_the_target_itself():
    assert prog.assess(10, 10, 10, date(2023, 3, 31)).light == "green"
    assert prog.assess(6, 10, 10, date(2023, 3, 31)).light == "red"


def test_targets_between_listed_years_are_interpolated():
    known = {2022: 1976, 2023: 2260, 2027: 3900}
    assert prog.interpolate_target(known, 2023) == 2260
    assert prog.interpolate_target(known, 2025) == pytest.approx(3080)
    assert prog.interpolate_target(known, 2028) is None
    assert prog.interpolate_target({}, 2024) is None


def test_less_than_one_whole_enterprise_short_is_not_behind():
    # Target 10 from 9: by the end of July 9.58 are expected; 9 is less than one short.
    p = prog.assess(9, 9, 10, date(2023, 7, 31), mode="monthly")
    assert p.points_behind == 0 and p.light == "green"
    # Target 20 from 9: 15.4 expected; 14 is more than one short → behind.
    assert prog.assess(14, 9, 20, date(2023, 7, 31), mode="monthly").light != "green"
