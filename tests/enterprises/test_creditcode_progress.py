"""Credit codes (GB 32100-2015) and expected-to-date progress: pure functions."""

import random
from datetime import date

import pytest

from taskflow.measures import indicators as prog
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
    assert prog.year_fraction(date(2023, 12, 31), mode="daily") == 1.0
    assert prog.year_fraction(date(2023, 7, 2), mode="daily") == pytest.approx(183 / 365)
    assert prog.year_fraction(date(2024, 3, 31), mode="monthly") == pytest.approx(0.25)
    assert prog.year_fraction(date(2024, 3, 30), mode="monthly") == pytest.approx(2 / 12)
    assert prog.DEFAULT_MODE == "monthly"
    with pytest.raises(ValueError):
        prog.year_fraction(date(2024, 1, 1), mode="weekly")


def test_expected_to_date_is_linear_from_the_prior_year_end():
    # 1976 at the end of 2022, 2260 targeted for 2023: mid-year expects half of the increase.
    assert prog.expected_to_date(1976, 2260, date(2023, 6, 30), mode="monthly") == 2118
    p = prog.assess(2118, 1976, 2260, date(2023, 6, 30), mode="monthly")
    assert p.done_pct == 50 and p.points_behind == 0 and p.light == "green"


def test_expected_to_date_never_exceeds_the_target_nor_falls_below_the_base():
    # An interpolated target of 2.4 is 2 whole enterprises; expected never passes it.
    assert prog.year_target({2022: 2, 2023: 2.4}, 2023) == 2
    assert prog.year_target({2023: 30, 2027: 55}, 2026) == 49  # 48.75 → 49
    p = prog.assess(2, 0, 2.4, date(2026, 12, 31))
    assert p.target == 2 and p.expected == 2
    for day in (date(2026, 1, 31), date(2026, 11, 30), date(2026, 12, 31)):
        for mode in prog.MODES:
            assert 0 <= prog.expected_to_date(20, 20.4, day, mode=mode) <= 20.4
            assert 20 <= prog.expected_to_date(20, 23, day, mode=mode) <= 23


@pytest.mark.parametrize("actual, light", [(2260, "green"), (2093, "green"), (2092, "yellow"),
                                           (2036, "yellow"), (2035, "red"), (1976, "red")])
def test_lights_by_points_behind(actual, light):
    # At 2023-06-30 (monthly) 50 % is expected; 10 points behind → yellow, 30 → red, on the
    # whole percentages printed (2092 is 40.8 % → 40 %, 10 behind; 2035 is 20.8 % → 20 %).
    p = prog.assess(actual, 1976, 2260, date(2023, 6, 30), mode="monthly", yellow=10, red=30)
    assert p.light == light
    assert p.light == prog.light_rule(p.state, p.done_pct, p.expected_pct, yellow=10, red=30)


def test_thresholds_are_configurable_and_no_target_is_grey():
    p = prog.assess(2080, 1976, 2260, date(2023, 6, 30), mode="monthly", yellow=20, red=40)
    assert p.light == "green"
    assert prog.assess(5, 0, None, date(2023, 6, 30)).light == "grey"
    assert prog.settings({"LIGHT_YELLOW_POINTS": 5, "LIGHT_RED_POINTS": 15}) == {
        "yellow": 5, "red": 15, "mode": "monthly"}


def test_a_decline_is_red_and_shown_as_a_decline_not_a_negative_percentage(app):
    from taskflow.enterprises.labels import progress_text

    p = prog.assess(15, 20, 23, date(2026, 11, 30))
    assert p.state == prog.DECLINE and p.light == "red" and p.decline == 5 and p.done_pct == 0
    with app.test_request_context():
        assert progress_text(p) == "减少 5 家"


def test_completion_above_the_target_is_capped_and_called_exceeded(app):
    from taskflow.enterprises.labels import progress_text

    p = prog.assess(26, 20, 21, date(2026, 11, 30))  # +6 against +1: not 600 %
    assert p.state == prog.REACHED and p.done_pct == 100 and p.light == "green"
    with app.test_request_context():
        assert progress_text(p).startswith("100% / 92%") and "超额" in progress_text(p)


def test_a_target_without_increase_shows_no_increment_and_is_judged_on_holding_it(app):
    from taskflow.enterprises.labels import progress_text

    holding = prog.assess(10, 10, 10, date(2023, 3, 31))
    assert holding.state == prog.NO_INCREMENT and holding.light == "grey"
    assert holding.done_pct is None  # never "100 %"
    below = prog.assess(6, 10, 10, date(2023, 3, 31))
    assert below.state == prog.BELOW_TARGET and below.light == "red" and below.decline == 4
    with app.test_request_context():
        assert progress_text(holding) == "本年无增量目标"
        assert "本年无增量目标" in progress_text(below)


def test_targets_between_listed_years_are_interpolated():
    known = {2022: 1976, 2023: 2260, 2027: 3900}
    assert prog.interpolate_target(known, 2023) == 2260
    assert prog.interpolate_target(known, 2025) == pytest.approx(3080)
    assert prog.interpolate_target(known, 2028) is None
    assert prog.interpolate_target({}, 2024) is None


def test_a_small_target_short_by_its_whole_increase_is_red_as_printed():
    # Target 2 from 0 at the end of November: 0 % done against 92 % expected → red (the old
    # "less than one enterprise short" exception painted such a row green).
    p = prog.assess(0, 0, 2, date(2026, 11, 30))
    assert (p.done_pct, p.expected_pct, p.light) == (0, 92, "red")
