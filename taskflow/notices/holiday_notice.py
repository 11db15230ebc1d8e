"""Read the State Council's yearly holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知).

The admin pastes the notice as published; `parse_notice(text, year)` returns each holiday's rest
range (放假) and the make-up working days (调休上班), or raises NoticeParseError with every problem
found. Nothing is guessed: every clause that mentions 放假 or 上班 together with a date must be
understood, a stated day count (共N天 / 放假N天) must equal the range, and a stated weekday (周四,
星期六) must be that date's weekday, so a typo or a notice of another year is caught before it
reaches the calendar.

Examples of the sentences it reads:
    一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。
        1月26日（周日）、2月8日（周六）上班。
    一、元旦：1月1日（周三）放假1天，不调休。
    一、元旦：1月1日至3日放假调休，共3天。2011年12月31日（星期六）上班。
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
FULL_WIDTH = str.maketrans("０１２３４５６７８９()：,;", "0123456789（）:，；")


def _date(tag: str) -> str:
    """A date token with named groups y<tag>, m<tag>, d<tag> and an optional （note）."""
    return (rf"(?:(?P<y{tag}>\d{{4}})年)?(?:(?P<m{tag}>\d{{1,2}})月)?(?P<d{tag}>\d{{1,2}})日"
            rf"(?:（(?P<n{tag}>[^）]*)）)?")


DATE = re.compile(_date(""))
REST = re.compile(_date("a") + r"(?:(?:至|到|—|－|-|~|～)" + _date("b") + r")?放假")
REST_COUNT = re.compile(r"放假(?:调休)?[，、]?共?(\d+)天")
ITEM = re.compile(r"(?:^|[。\n])\s*[一二三四五六七八九十]+、([^：:\n。]{1,20})[：:]")
TITLE_YEAR = re.compile(r"关于(\d{4})年(?:部分)?节假日")


class NoticeParseError(ValueError):
    """The text cannot be read as a holiday notice: `problems` lists each reason (translated)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class Holiday:
    name: str
    first: date
    last: date
    make_up: list[date] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass
class Arrangement:
    """A year's official arrangement: rest ranges and make-up working days."""

    year: int
    holidays: list[Holiday]

    @property
    def rest_days(self) -> list[date]:
        days = set()
        for holiday in self.holidays:
            day = holiday.first
            while day <= holiday.last:
                days.add(day)
                day += timedelta(days=1)
        return sorted(days)

    @property
    def make_up_days(self) -> list[date]:
        return sorted({d for h in self.holidays for d in h.make_up})

    def overrides(self) -> dict[date, bool]:
        """{day: is_workday} to store: every rest day False, every make-up day True."""
        result = {day: False for day in self.rest_days}
        result.update({day: True for day in self.make_up_days})
        return result

    def is_workday(self, day: date) -> bool:
        """The arrangement's answer for a day of its year: Monday–Friday unless the notice
        names the day as a rest day or a make-up working day."""
        return self.overrides().get(day, day.weekday() < 5)


def _normalise(text: str) -> str:
    text = (text or "").translate(FULL_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[ \t\u3000\xa0]+", "", text)


def _stated_weekday(note: str | None) -> int | None:
    if not note:
        return None
    found = re.search(r"(?:周|星期|礼拜)([一二三四五六日天])", note)
    return WEEKDAYS[found.group(1)] if found else None


class _Reader:
    def __init__(self, year: int):
        self.year = year
        self.problems: list[str] = []

    def day(self, y: str | None, m: str | None, d: str, *, default_year: int, default_month: int | None,
            note: str | None, clause: str) -> date | None:
        year = int(y) if y else default_year
        month = int(m) if m else default_month
        if month is None:
            self.problems.append(_("No month for the date “%(day)s日” in: %(clause)s", day=d,
                                   clause=clause))
            return None
        try:
            day = date(year, month, int(d))
        except ValueError:
            self.problems.append(_("Not a date: %(month)s月%(day)s日 in: %(clause)s", month=month,
                                   day=d, clause=clause))
            return None
        weekday = _stated_weekday(note)
        if weekday is not None and weekday != day.weekday():
            self.problems.append(_("%(day)s is not a %(stated)s (the text says so in: %(clause)s)",
                                   day=day.isoformat(), stated=note, clause=clause))
        return day


def _clauses(text: str):
    """(holiday name or "", clause) for each sentence of the text, in order."""
    name = ""
    for line in text.split("\n"):
        for clause in line.split("。"):
            if not clause:
                continue
            item = ITEM.search("\n" + clause)
            if item:
                name = item.group(1)
            yield name, clause


def parse_notice(text: str, year: int | None = None) -> Arrangement:
    """The arrangement a pasted notice states; NoticeParseError listing every problem."""
    text = _normalise(text)
    problems: list[str] = []
    named = TITLE_YEAR.search(text)
    if named:
        if year is not None and int(named.group(1)) != year:
            raise NoticeParseError([_("The text is the notice for %(named)s, not for %(year)s.",
                                      named=named.group(1), year=year)])
        year = int(named.group(1))
    if year is None:
        raise NoticeParseError([_("Give the year: the text does not name it.")])
    reader = _Reader(year)
    holidays: list[Holiday] = []
    loose_make_up: list[date] = []
    for name, clause in _clauses(text):
        has_date = DATE.search(clause) is not None
        if "放假" in clause and has_date:
            match = REST.search(clause)
            if match is None:
                reader.problems.append(_("Cannot read the rest days in: %(clause)s", clause=clause))
                continue
            g = match.groupdict()
            first = reader.day(g["ya"], g["ma"], g["da"], default_year=year, default_month=None,
                               note=g["na"], clause=clause)
            if first is None:
                continue
            last = first
            if g["db"]:
                last_month = int(g["mb"]) if g["mb"] else first.month
                last_year = int(g["yb"]) if g["yb"] else first.year + (last_month < first.month)
                last = reader.day(str(last_year), str(last_month), g["db"], default_year=year,
                                  default_month=None, note=g["nb"], clause=clause)
                if last is None:
                    continue
                if last < first:
                    reader.problems.append(_("The rest days end before they begin in: %(clause)s",
                                             clause=clause))
                    continue
            holiday = Holiday(name or clause[:12], first, last)
            count = REST_COUNT.search(clause, match.end() - 2)
            if count and int(count.group(1)) != holiday.days:
                reader.problems.append(_("%(first)s to %(last)s is %(days)s days, but the text "
                                         "says %(stated)s in: %(clause)s", first=first.isoformat(),
                                         last=last.isoformat(), days=holiday.days,
                                         stated=count.group(1), clause=clause))
            holidays.append(holiday)
        elif "上班" in clause and has_date:
            before = clause[:clause.rindex("上班")]
            month = None
            days = []
            for token in DATE.finditer(before):
                day = reader.day(token["y"], token["m"], token["d"], default_year=year,
                                 default_month=month, note=token["n"], clause=clause)
                if day is not None:
                    month = day.month
                    days.append(day)
            if holidays and holidays[-1].name == (name or holidays[-1].name):
                holidays[-1].make_up.extend(days)
            else:
                loose_make_up.extend(days)
    problems.extend(reader.problems)
    if loose_make_up:
        problems.append(_("Make-up working days that follow no holiday: %(days)s",
                          days=", ".join(d.isoformat() for d in loose_make_up)))
    if not holidays and not problems:
        problems.append(_("No holiday found: paste the notice's text, with sentences such as "
                          "“1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。”"))
    arrangement = Arrangement(year, holidays)
    if holidays:
        both = set(arrangement.rest_days) & set(arrangement.make_up_days)
        if both:
            problems.append(_("These days are both rest days and working days: %(days)s",
                              days=", ".join(d.isoformat() for d in sorted(both))))
        outside = [d for d in arrangement.rest_days + arrangement.make_up_days
                   if abs(d.year - year) > 1]
        if outside:
            problems.append(_("These days are not in or next to %(year)s: %(days)s", year=year,
                              days=", ".join(d.isoformat() for d in outside)))
        if not any(d.year == year for d in arrangement.rest_days):
            problems.append(_("No rest day of %(year)s in the text.", year=year))
    if problems:
        raise NoticeParseError(problems)
    return arrangement
