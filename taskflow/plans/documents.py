"""Pure parsers for the two plan documents (district work plan, city action plan).

No database, no Flask: text (or a .docx) in, dataclasses out. ``parse_plan_text`` reads the
plain-text extractions kept in ``seeds/``; ``parse_plan_docx`` turns a Word file into the same
line layout and runs the same parser, so both paths give equal results; ``validate`` checks the
rules the documents state about themselves (numbering, row equations, column totals).

Line numbers are 1-based lines of the text. For a .docx they are the lines of the equivalent
text: one line per paragraph, so for everything before the attachment table a "line" is the
paragraph number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from os import PathLike
from typing import IO, Literal

# code -> (Chinese name, measure); measure is "count" (enterprises), "percent" or "ratio"
# (patents per 10,000 people).
INDICATORS: dict[str, tuple[str, str]] = {
    "tech_based": ("科技型企业", "count"),
    "high_tech": ("高新技术企业", "count"),
    "specialised_sme": ("专精特新企业", "count"),
    "little_giant": ("专精特新“小巨人”企业", "count"),
    "single_champion": ("制造业单项冠军企业", "count"),
    "rd_ratio": ("规上工业企业研发费支出占营业收入比重", "percent"),
    "emerging_industry_share": ("新兴产业增加值占规模以上工业增加值比重", "percent"),
    "high_tech_manufacturing_share": ("高技术制造业增加值占规模以上工业增加值比重", "percent"),
    "invention_patents_per_10k": ("每万人发明专利拥有量", "ratio"),
    "high_value_patents_per_10k": ("每万人口高价值发明专利拥有量", "ratio"),
}

TARGET_KINDS = ("in_library", "re_review", "new", "cultivated", "attracted")

# The city plan's four region labels, and the label that groups the first two on the page.
REGIONS = ("中心城区", "主城新区", "渝东北三峡库区城镇群", "渝东南武陵山区城镇群")
SUPER_REGION = "主城都市区"

ValueKey = tuple[str, int, str]  # (indicator code, year, target kind)

# The district attachment's ten value columns, in document order, with their Chinese headers.
DISTRICT_COLUMNS: tuple[tuple[ValueKey, str], ...] = (
    (("tech_based", 2022, "in_library"), "科技型企业2022年"),
    (("tech_based", 2023, "in_library"), "科技型企业2023年"),
    (("tech_based", 2027, "in_library"), "科技型企业2027年"),
    (("high_tech", 2022, "in_library"), "高新技术企业2022年在库量"),
    (("high_tech", 2023, "in_library"), "高新技术企业2023年在库量"),
    (("high_tech", 2023, "re_review"), "高新技术企业2023年复审"),
    (("high_tech", 2023, "new"), "高新技术企业2023年新增"),
    (("high_tech", 2023, "cultivated"), "高新技术企业2023年培育"),
    (("high_tech", 2023, "attracted"), "高新技术企业2023年招引"),
    (("high_tech", 2027, "in_library"), "高新技术企业2027年在库量"),
)
_DISTRICT_LABELS = dict(DISTRICT_COLUMNS)

# What each document must contain; validate() holds the parsed plan to this.
EXPECTED_SHAPE = {
    "district": {"sections": 4, "tasks": 13, "tables": 1, "numbered_rows": 42, "starred_rows": 0},
    "city": {"sections": 4, "tasks": 15, "tables": 2, "numbered_rows": 39, "starred_rows": 2},
}


class PlanDocumentError(Exception):
    """A plan document that cannot be read or breaks its own rules; the message names the place."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        row: int | str | None = None,
        column: str | None = None,
        unit: str | None = None,
    ):
        self.message = message
        self.line = line
        self.row = row
        self.column = column
        self.unit = unit
        place = []
        if line is not None:
            place.append(f"line {line}")
        if row is not None:
            place.append(f"table row {row}" + (f" ({unit})" if unit else ""))
        if column is not None:
            place.append(f"column {column}")
        super().__init__(f"{', '.join(place)}: {message}" if place else message)


@dataclass
class ParsedGoal:
    """A goal the document states, with its own words (``text``) and number.

    Three shapes: an indicator goal (``indicator`` set: 高新技术企业达到300家以上; enterprise counts
    in 家 are whole numbers, “1.3万家” is 13000), any other numeric goal (``indicator`` None,
    ``metric`` in the document's words, the number and ``unit`` as written: 40 万平方米, 1000 亿元)
    and a qualitative goal (``value`` None: 成功创建国家高新区). ``year`` is None for a goal of
    every year (``every_year``: 每年上市企业超过10家) and for a task's target that names no year,
    which holds for the plan period (遴选100家高新技术骨干企业). ``scope`` is where it applies when
    the text says so (全区, 全市, 中心城区, …).
    """

    indicator: str | None
    year: int | None
    comparator: str  # ">=", ">", "=" (a plain figure); "" for a qualitative goal
    value: Decimal | None
    text: str
    unit: str = ""
    metric: str = ""
    scope: str = ""
    task: int | None = None  # the key task whose text states it; None: the goals part
    every_year: bool = False

    @property
    def key(self) -> tuple:
        """What the goal is about; one goal per key in a plan."""
        if self.indicator is not None:
            return (self.year, self.indicator, "", "")
        return (self.year, None, self.metric, self.scope)


@dataclass
class ParsedTask:
    number: int
    title: str
    body: str
    line: int
    lead_units: list[str] = field(default_factory=list)
    responsible_units: list[str] = field(default_factory=list)
    units_text: str = ""
    units_open: bool = False


@dataclass
class ParsedSection:
    number: int
    title: str
    tasks: list[ParsedTask] = field(default_factory=list)


@dataclass
class ParsedTargetRow:
    number: int | None  # 序号; None for the 合计 row and the city plan's ★ rows
    unit: str
    parent_unit: str | None
    line: int
    # None where the cell is "-": the figure does not apply to this unit (not a zero).
    values: dict[ValueKey, int | None] = field(default_factory=dict)

    def value(self, key: ValueKey) -> int:
        """The cell as a number for the document's own sums: a "-" adds nothing."""
        return self.values[key] or 0


@dataclass
class ParsedTable:
    title: str
    rows: list[ParsedTargetRow]
    total: ParsedTargetRow
    # (value key, Chinese column header) in document order; used to name columns in errors.
    columns: tuple[tuple[ValueKey, str], ...] = ()


@dataclass
class ParsedPlan:
    level: Literal["district", "city"]
    title: str
    start_year: int
    end_year: int
    goals: list[ParsedGoal]
    sections: list[ParsedSection]
    tables: list[ParsedTable]
    regions: dict[str, str] = field(default_factory=dict)

    @property
    def tasks(self) -> list[ParsedTask]:
        """All key tasks in document order."""
        return [task for section in self.sections for task in section.tasks]


# --------------------------------------------------------------------------- public entry points


# Control characters other than tab and line ends (a NUL, a form feed): a damaged or binary file,
# and PostgreSQL text cannot hold a NUL at all.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_plan_text(text: str) -> ParsedPlan:
    """Parse either plan document from its plain text; the document type is detected."""
    found = _CONTROL_CHARACTER.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise PlanDocumentError(f"line {line}: control character U+{ord(found.group()):04X} "
                                "(a damaged or binary file)")
    return _parse_lines(_split_lines(text))


def parse_plan_docx(path: str | PathLike | IO[bytes]) -> ParsedPlan:
    """Parse a plan document from a .docx: paragraphs in order, tables as real Word tables."""
    import docx  # python-docx; imported here so the text path does not need it

    return _parse_lines(docx_to_lines(docx.Document(path)))


def detect_level(text: str) -> Literal["district", "city"]:
    """Tell from the title whether a text is the district work plan or the city action plan."""
    return _detect_level(_prose_lines(_split_lines(text)))


def docx_to_lines(document) -> list[str]:
    """Render a python-docx Document as the lines of the text extractions."""
    # Paragraphs become lines. A table becomes one block per row: each cell starts a line with
    # a tab, further lines of a cell follow without one, and an empty line ends the row. Each
    # <w:tc> is read once (a horizontal span is one cell, unlike python-docx's row.cells, which
    # repeats it), and the continuation part of a vertical merge reads as empty: that is how the
    # extracted text shows merged cells, so both inputs meet the same parser.
    from docx.table import Table, _Cell

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for tr in block._tbl.tr_lst:
                for tc in tr.tc_lst:
                    text = "" if tc.vMerge == "continue" else _Cell(tc, block).text
                    first, *rest = text.split("\n")
                    lines.append("\t" + first)
                    lines.extend(rest)
                lines.append("")
        else:
            lines.extend(block.text.split("\n"))
    return lines


def validate(plan: ParsedPlan) -> None:
    """Check a parsed plan against its document's own rules; raise PlanDocumentError if broken."""
    shape = EXPECTED_SHAPE[plan.level]
    _check_sections_and_tasks(plan, shape)
    if len(plan.tables) != shape["tables"]:
        raise PlanDocumentError(
            f"expected {shape['tables']} attachment table(s), found {len(plan.tables)}"
        )
    for table in plan.tables:
        _check_rows(table, shape)
        if plan.level == "district":
            _check_district_row_rules(table)
        _check_column_totals(table)
    if plan.level == "city":
        _check_regions(plan)
    _check_shares(plan)


# --------------------------------------------------------------------------- lines and prose


_PAGE_NUMBER_RE = re.compile(r"^\s*[-－—]\s*\d+\s*[-－—]\s*$")
_YEARS_RE = re.compile(r"[（(]\s*(\d{4})\s*[—–\-－~～至]+\s*(\d{4})\s*年\s*[）)]")
_PART_RE = re.compile(r"^([一二三四五六七八九十]+)、\s*(.+)$")
_SECTION_RE = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)]\s*(.*)$")
_TASK_RE = re.compile(r"^(\d{1,3})\s*[.．、](?!\d)\s*(.*)$")
_NON_ASCII = r"[^\x00-\x7f]"


@dataclass
class _Line:
    number: int  # 1-based line number in the text
    text: str  # stripped


def _split_lines(text: str) -> list[str]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _prose_lines(lines: list[str], stop: int | None = None) -> list[_Line]:
    """Non-blank lines up to ``stop`` (an index), stripped, with page numbers ("- 12 -") dropped."""
    result = []
    for index, raw in enumerate(lines[:stop]):
        text = raw.strip()
        if text and not _PAGE_NUMBER_RE.match(text):
            result.append(_Line(index + 1, text))
    return result


def _join(parts: list[str], *, pdf: bool) -> str:
    """Join the pieces of one paragraph.

    The city text comes from a PDF: lines break mid-sentence and the extractor put spaces around
    numbers ("到 2025 年"). Chinese has no spaces between words, so whitespace next to a non-ASCII
    character is an artefact and goes; spaces between two ASCII tokens stay.
    """
    text = "".join(part.strip() for part in parts)
    if pdf:
        text = re.sub(rf"\s+(?={_NON_ASCII})|(?<={_NON_ASCII})\s+", "", text)
    return text


def _chinese_number(text: str) -> int:
    digits = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return digits.get(tens, 1) * 10 + digits.get(ones, 0)
    return digits[text]


def _detect_level(prose: list[_Line]) -> Literal["district", "city"]:
    title, _, _, _ = _parse_title(prose)
    if "工作方案" in title:
        return "district"
    if "行动计划" in title:
        return "city"
    raise PlanDocumentError(
        f"cannot tell which plan document this is from its title {title!r}", line=prose[0].number
    )


_TITLE_NOTE_RE = re.compile(r"^[（(][^（）()\d一二三四五六七八九十]{1,12}[）)]$")


def _parse_title(prose: list[_Line]) -> tuple[str, int, int, int]:
    """The title lines up to the one with the years, and a version note such as （送审稿） on
    the line after it, which stays part of the title; returns (title, start, end, next index)."""
    if not prose:
        raise PlanDocumentError("the document is empty", line=1)
    for index, line in enumerate(prose[:6]):
        match = _YEARS_RE.search(line.text)
        if match:
            end = index + 1
            while end < len(prose) and _TITLE_NOTE_RE.match(prose[end].text):
                end += 1
            title = _join([entry.text for entry in prose[:end]], pdf=True)
            return title, int(match.group(1)), int(match.group(2)), end
    raise PlanDocumentError(
        "no title with the plan period (such as （2023—2027年）) at the top", line=prose[0].number
    )


def title_without_note(title: str) -> str:
    """The title without its version note: “…（2023—2027年）（送审稿）” → “…（2023—2027年）”.

    The unit directory names a plan by this part, so a later version of the same document
    (征求意见稿, 送审稿, the final text) finds the same directory and updates the same plan."""
    match = None
    for match in _YEARS_RE.finditer(title):
        pass
    return title[: match.end()] if match else title


def _parts(prose: list[_Line]) -> dict[str, tuple[int, int]]:
    """Top-level parts (一、…, 二、…) by title -> (first prose index, end prose index)."""
    starts = [(index, line.text) for index, line in enumerate(prose) if _PART_RE.match(line.text)]
    parts = {}
    for position, (index, text) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(prose)
        parts[_PART_RE.match(text).group(2).strip()] = (index + 1, end)
    return parts


def _part(prose: list[_Line], parts: dict[str, tuple[int, int]], prefix: str) -> list[_Line]:
    for title, (start, end) in parts.items():
        if title.startswith(prefix):
            return prose[start:end]
    raise PlanDocumentError(f"the document has no part headed “{prefix}”", line=prose[0].number)


# --------------------------------------------------------------------------- goals

# Longer phrases first: "专精特新“小巨人”企业" must not be read as "专精特新企业".
_GOAL_PHRASES: tuple[tuple[str, str], ...] = (
    ("little_giant", r"专精特新[“\"]?小巨人[”\"]?企业"),
    ("single_champion", r"(?:制造业)?单项冠军企业"),
    ("specialised_sme", r"专精特新企业"),
    ("high_tech", r"高新技术企业"),
    ("tech_based", r"科技型企业"),
    ("rd_ratio", r"研发费(?:用)?支出占[^，。；、]*?营业收入(?:的)?比重"),
    ("emerging_industry_share", r"(?:战略性)?新兴产业增加值占规模以上工业增加值(?:的)?比重"),
    ("high_tech_manufacturing_share", r"高技术制造业增加值占规模以上工业增加值(?:的)?比重"),
    ("high_value_patents_per_10k", r"每万人口?高价值发明专利(?:拥有量)?"),
    ("invention_patents_per_10k", r"每万人口?发明专利(?:拥有量)?"),
)
_PHRASE = "|".join(f"(?P<{code}>{pattern})" for code, pattern in _GOAL_PHRASES)
_VERB = r"(?P<verb>达到|突破|超过|提高到|达)"
_AMOUNT = r"(?P<num>\d+(?:\.\d+)?)(?P<wan>万)?(?P<unit>家|%|件)(?P<above>以上)?"
_GOAL_RE = re.compile(rf"(?:{_PHRASE})[^，。；、]*?{_VERB}{_AMOUNT}")
# "A、B…，分别超过 1.3 万家、8.6 万家": two indicators, two values in order.
_ANY_PHRASE = "|".join(pattern for _, pattern in _GOAL_PHRASES)
_PAIR_RE = re.compile(
    rf"(?P<first>{_ANY_PHRASE})、(?P<second>{_ANY_PHRASE})"
    rf"[^。；]*?分别(?P<verb>达到|突破|超过|提高到|达)"
    r"(?P<n1>\d+(?:\.\d+)?)(?P<w1>万)?(?P<u1>家|%|件)(?P<a1>以上)?、"
    r"(?P<n2>\d+(?:\.\d+)?)(?P<w2>万)?(?P<u2>家|%|件)(?P<a2>以上)?"
)
_YEAR_RE = re.compile(r"(?:到|力争)(\d{4})年")


def _indicator_of(phrase: str) -> str:
    for code, pattern in _GOAL_PHRASES:
        if re.fullmatch(pattern, phrase):
            return code
    raise AssertionError(phrase)


def _comparator(verb: str, above: str | None) -> str:
    # "以上" (or more) is inclusive; "超过/突破" (exceed / break through) are strict.
    if above:
        return ">="
    return ">" if verb in ("超过", "突破") else ">="


def _amount(number: str, wan: str | None) -> Decimal:
    value = Decimal(number) * (10000 if wan else 1)
    return Decimal(int(value)) if value == value.to_integral_value() else value


def _clause_start(sentence: str, position: int) -> int:
    cut = max(sentence.rfind(mark, 0, position) for mark in "，；、。")
    return cut + 1


def _extract_goals(text: str, *, task: int | None = None) -> list[ParsedGoal]:
    """The goals of normalised prose: every dated sentence (“到2027年，…”, “力争2027年…”) and every
    “每年…” clause with a number.

    Indicator goals first (the indicators of INDICATORS, “A、B…分别超过x、y”); then, clause by
    clause (a clause ends at ，；。), the regional shares (“中心城区…占全市总量的55%”), other
    numeric goals (“全区孵化载体面积超过40万平方米”, “…科技创新平台1000个以上”) and qualitative
    goals (“成功创建国家高新区”, “…超过全国平均水平”). Without a year, a clause is a goal when it
    says 每年 (every year) or, in a key task, when it selects or supports a number of enterprises
    (“遴选100家高新技术骨干企业重点支持”, “支持1000家…发展壮大”: the plan period's targets). The size
    a single facility must have (“面积50万平方米以上的大型创新创业孵化社区”) is not a goal.
    """
    goals: list[ParsedGoal] = []
    for sentence in re.split(r"(?<=。)", text):
        year_match = _YEAR_RE.search(sentence)
        year = int(year_match.group(1)) if year_match else None
        taken: list[tuple[int, int]] = []
        if year is not None:
            for match in _PAIR_RE.finditer(sentence):
                start = _clause_start(sentence, match.start())
                clause = sentence[start : match.end()]
                for phrase, number, wan, unit, above in (
                    (match["first"], match["n1"], match["w1"], match["u1"], match["a1"]),
                    (match["second"], match["n2"], match["w2"], match["u2"], match["a2"]),
                ):
                    goals.append(
                        ParsedGoal(
                            _indicator_of(phrase),
                            year,
                            _comparator(match["verb"], above),
                            _amount(number, wan),
                            clause,
                            unit=unit,
                            task=task,
                        )
                    )
                taken.append((start, match.end()))
            for match in _GOAL_RE.finditer(sentence):
                if any(start <= match.start() < end for start, end in taken):
                    continue
                code = next(code for code, _ in _GOAL_PHRASES if match.group(code))
                start = _clause_start(sentence, match.start())
                goals.append(
                    ParsedGoal(
                        code,
                        year,
                        _comparator(match["verb"], match["above"]),
                        _amount(match["num"], match["wan"]),
                        sentence[start : match.end()],
                        unit=match["unit"],
                        task=task,
                    )
                )
                taken.append((start, match.end()))
        goals.extend(_clause_goals(sentence, year, taken, task))
    return goals


_REGION = "|".join(REGIONS)
_SHARE_RE = re.compile(
    rf"^(?P<scope>(?:{_REGION})(?:和(?:{_REGION}))*)(?P<subject>.*?)(?P<of>占全市总量的?)"
    r"(?P<num>\d+(?:\.\d+)?)%$"
)
_NUMBER_RE = re.compile(
    r"^(?P<metric>.*?)(?P<verb>达到|突破|超过|提高到|达)?"
    r"(?P<num>\d+(?:\.\d+)?)(?P<unit>(?:万|亿)?(?:平方米|家|个|件|元)|%)(?P<above>以上)?$"
)
_QUALITATIVE_RES = (
    re.compile(r"^(?:成功)?(?:创建|建成)(?:国家|市级)\S+$"),  # 成功创建国家高新区
    re.compile(r"^\S+(?:超过|高于|达到)全国平均水平$"),  # 全社会研发经费投入强度超过全国平均水平
)
_DATE_PREFIX_RE = re.compile(r"^(?:到|力争)\d{4}年")
_PERIOD_RE = re.compile(r"^(?P<verb>遴选|支持)(?P<num>\d+(?:\.\d+)?)(?P<unit>家|个)(?P<object>.+)$")


def _clause_goals(sentence: str, year: int | None, taken: list[tuple[int, int]],
                  task: int | None) -> list[ParsedGoal]:
    """Regional shares, other numeric goals and qualitative goals of one sentence."""
    goals: list[ParsedGoal] = []
    share_subject = ""
    for match in re.finditer(r"[^，；。]+", sentence):
        if any(start < match.end() and match.start() < end for start, end in taken):
            continue
        clause = match.group().strip()
        body = _DATE_PREFIX_RE.sub("", clause)
        every_year = False
        if year is None:
            period = _PERIOD_RE.match(body) if task is not None else None
            if period:
                goals.append(ParsedGoal(
                    None, None, "=", Decimal(period["num"]), clause, unit=period["unit"],
                    metric=period["verb"] + period["object"], task=task,
                ))
                continue
            if not body.startswith("每年"):
                continue
            body, every_year = body[2:], True
        share = _SHARE_RE.match(body)
        if share and year is not None:
            share_subject = share["subject"] or share_subject
            goals.append(ParsedGoal(
                None, year, "=", Decimal(share["num"]), clause, unit="%",
                metric=f"{share_subject}{share['of'].rstrip('的')}", scope=share["scope"], task=task,
            ))
            continue
        number = _NUMBER_RE.match(body)
        if number and number["metric"] and not re.search(r"\d", number["metric"]):
            metric = number["metric"]
            scope = ""
            if metric[:2] in ("全区", "全市"):
                scope, metric = metric[:2], metric[2:]
            goals.append(ParsedGoal(
                None, year,
                _comparator(number["verb"], number["above"]) if number["verb"] or number["above"]
                else "=",
                Decimal(number["num"]), clause, unit=number["unit"], metric=metric, scope=scope,
                task=task, every_year=every_year,
            ))
            continue
        if year is not None and any(pattern.match(body) for pattern in _QUALITATIVE_RES):
            goals.append(ParsedGoal(
                None, year, "", None, clause, metric=re.sub(r"^成功", "", body), task=task,
            ))
    return goals


def _merge_goals(goals: list[ParsedGoal], more: list[ParsedGoal], line: int) -> None:
    """Add goals a task restates; the same goal twice is fine, two different values are not."""
    for goal in more:
        known = next((g for g in goals if g.key == goal.key), None)
        if known is None:
            goals.append(goal)
        elif (known.comparator, known.value) != (goal.comparator, goal.value):
            raise PlanDocumentError(
                f"“{goal.text}” contradicts the goal “{known.text}”", line=line
            )


# --------------------------------------------------------------------------- key tasks


@dataclass
class _RawTask:
    number: int
    line: int
    last_line: int
    parts: list[str]


@dataclass
class _RawSection:
    number: int
    line: int
    title_parts: list[str]
    tasks: list[_RawTask]


def _read_sections(lines: list[_Line]) -> list[_RawSection]:
    """Group the key-task part into sections and tasks; continuation lines join their task."""
    sections: list[_RawSection] = []
    for line in lines:
        section = _SECTION_RE.match(line.text)
        task = _TASK_RE.match(line.text)
        if section:
            sections.append(
                _RawSection(_chinese_number(section.group(1)), line.number, [section.group(2)], [])
            )
        elif task:
            if not sections:
                raise PlanDocumentError(
                    f"task {task.group(1)} comes before any section （一）…", line=line.number
                )
            sections[-1].tasks.append(
                _RawTask(int(task.group(1)), line.number, line.number, [task.group(2)])
            )
        elif sections and sections[-1].tasks:
            # A PDF line break (city) or a soft break in a .docx paragraph: same task.
            sections[-1].tasks[-1].parts.append(line.text)
            sections[-1].tasks[-1].last_line = line.number
        elif sections:
            sections[-1].title_parts.append(line.text)  # a section heading broken over lines
        else:
            raise PlanDocumentError(
                "text before the first section （一）… of the key tasks", line=line.number
            )
    return sections


def _split_units_parenthetical(text: str, line: int) -> tuple[str, str]:
    """Split a district task into (text before, the closing （牵头单位：…；责任单位：…）)."""
    if not text.endswith(("）", ")")):
        if "牵头单位" in text or "责任单位" in text:
            raise PlanDocumentError(
                "unbalanced parentheses: the （牵头单位：…；责任单位：…） at the end is not closed",
                line=line,
            )
        raise PlanDocumentError(
            "the task does not end with （牵头单位：…；责任单位：…）", line=line
        )
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        char = text[index]
        if char in "）)":
            depth += 1
        elif char in "（(":
            depth -= 1
            if depth == 0:
                return text[:index], text[index:]
    raise PlanDocumentError(
        "unbalanced parentheses: the closing ） of the unit parenthetical has no opening （",
        line=line,
    )


def _unit_names(block_text: str, role: str, line: int) -> tuple[list[str], bool]:
    """Unit names of one role, in order; returns (names, open) where open means "…等区级相关部门"."""
    names: list[str] = []
    is_open = False
    for block in block_text.split("，"):
        # A block starting with 各 is one collective phrase ("各园城、街镇"): its 、 is part of it.
        items = [block] if block.strip().startswith("各") else block.split("、")
        for item in items:
            name = item.strip()
            if "等" in name:
                # "区卫生健康委等区级相关部门": the named unit, and the list is left open.
                name, _, _rest = name.partition("等")
                is_open = True
            if not name:
                raise PlanDocumentError(f"empty unit name in the {role} list", line=line)
            if re.search(r"[：:；;（）()]", name):
                raise PlanDocumentError(
                    f"malformed unit name “{name}” in the {role} list", line=line
                )
            names.append(name)
    return names, is_open


def _parse_units(parenthetical: str, line: int) -> tuple[list[str], list[str], bool]:
    inner = parenthetical[1:-1].strip()
    if not inner.startswith(("牵头单位：", "牵头单位:")):
        raise PlanDocumentError(
            "the unit parenthetical does not start with 牵头单位：", line=line
        )
    blocks = re.split(r"[；;]", inner)
    if len(blocks) != 2 or not re.match(r"^责任单位[：:]", blocks[1].strip()):
        raise PlanDocumentError(
            "the unit parenthetical must read （牵头单位：…；责任单位：…）", line=line
        )
    leads, lead_open = _unit_names(re.sub(r"^牵头单位[：:]", "", blocks[0]), "牵头单位", line)
    responsible, resp_open = _unit_names(
        re.sub(r"^责任单位[：:]", "", blocks[1].strip()), "责任单位", line
    )
    return leads, responsible, lead_open or resp_open


def _build_tasks(raw_sections: list[_RawSection], *, level: str) -> list[ParsedSection]:
    pdf = level == "city"
    sections = []
    for raw_section in raw_sections:
        tasks = []
        for raw in raw_section.tasks:
            text = _join(raw.parts, pdf=pdf)
            leads: list[str] = []
            responsible: list[str] = []
            units_text = ""
            units_open = False
            if level == "district":
                text, units_text = _split_units_parenthetical(text, raw.last_line)
                leads, responsible, units_open = _parse_units(units_text, raw.last_line)
            if "。" not in text:
                raise PlanDocumentError(
                    f"task {raw.number} has no title sentence ending in 。", line=raw.line
                )
            tasks.append(
                ParsedTask(
                    number=raw.number,
                    title=text.split("。", 1)[0].strip(),
                    body=text.strip(),
                    line=raw.line,
                    lead_units=leads,
                    responsible_units=responsible,
                    units_text=units_text,
                    units_open=units_open,
                )
            )
        title = _join(raw_section.title_parts, pdf=pdf).rstrip("。")
        sections.append(ParsedSection(raw_section.number, title, tasks))
    return sections


# --------------------------------------------------------------------------- numbers in tables


NOT_APPLICABLE_MARKS = ("-", "－", "—", "–")


def _count(text: str, *, row: int | str | None, unit: str | None, column: str,
           line: int) -> int | None:
    """A table cell's number; None for "-", which the tables write where a figure does not apply
    (说明 1: departments count only 招引 enterprises, so they have no 2022 stock, no 培育, …)."""
    value = text.strip()
    if value in NOT_APPLICABLE_MARKS:
        return None
    if re.fullmatch(r"\d+", value):
        return int(value)
    raise PlanDocumentError(
        f"“{value}” is not a number", line=line, row=row, unit=unit, column=column
    )


def _cell_name(text: str) -> str:
    """A name from a table cell; a line break inside the cell is layout, not part of the name."""
    return "".join(part.strip() for part in text.split("\n"))


# --------------------------------------------------------------------------- district document


def _find_district_table(lines: list[str]) -> int:
    """Index of the first line of the attachment table (the first line starting with a tab)."""
    for index, raw in enumerate(lines):
        if raw.startswith("\t"):
            return index
    raise PlanDocumentError("the district plan has no attachment table")


def _group_tab_rows(lines: list[str], start: int) -> tuple[list[list[tuple[int, str]]], int]:
    """Rows of (line number, cell text) from the tab layout at ``start``; returns (rows, end).

    ``end`` is the index just past the table: past the blank line that closes its last row.
    """
    rows: list[list[tuple[int, str]]] = []
    current: list[list] | None = None
    end = start
    index = start
    while index < len(lines):
        raw = lines[index]
        if raw.startswith("\t"):
            if current is None:
                current = []
            current.append([index + 1, raw[1:]])
        elif not raw.strip():
            if current is not None:
                rows.append([(number, text) for number, text in current])
                current = None
                end = index + 1
        elif current is not None:
            current[-1][1] += "\n" + raw  # a further line of the same cell
        else:
            break  # prose after the table
        index += 1
    if current is not None:
        rows.append([(number, text) for number, text in current])
        end = index
    return rows, end


_KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("在库数量", "in_library"),
    ("在库量", "in_library"),
    ("复审", "re_review"),
    ("新增", "new"),
    ("培育", "cultivated"),
    ("招引", "attracted"),
)
_GROUP_WORDS: tuple[tuple[str, str], ...] = (("科技型企业", "tech_based"), ("高新技术企业", "high_tech"))
_HEADER_YEAR_RE = re.compile(r"(\d{4})年")


@dataclass
class _HeaderLabel:
    """One labelled header cell: what it says about the columns beneath it."""

    text: str
    line: int
    indicator: str | None
    year: int | None
    kind: str | None
    children: list[str] = field(default_factory=list)  # kinds written in cells below a year


def _header_label(text: str, line: int) -> _HeaderLabel:
    indicator = next((code for word, code in _GROUP_WORDS if word in text), None)
    year = _HEADER_YEAR_RE.search(text)
    kind = next((code for word, code in _KIND_WORDS if word in text), None)
    return _HeaderLabel(text, line, indicator, int(year.group(1)) if year else None, kind)


def _district_header_columns(
    header: list[list[tuple[int, str]]], line: int
) -> tuple[tuple[ValueKey, str], ...]:
    """The value columns the header's labels name, in the order of the table.

    Read by the labels, not by the shape of the header: Word versions split the same header into
    three rows (科技型企业 | 高新技术企业 / years / 在库量 复审 新增 培育 招引 under 2023年) or into
    two (… / 2022年在库量 2023年在库量 2023年复审 …), and merged cells come out as empty cells in
    either. Labels are taken in reading order: the indicator groups (科技型企业（在库数量）, 高新技术
    企业), then the year labels — a group's years go up, so a year lower than the one before starts
    the next group — then the kind labels (复审, 新增, …), which sit under the one year of a group
    that names no kind. A year with no kind is an in-library figure (说明 3).
    """
    expected = ("expected 序号, 单位, 科技型企业（2022/2023/2027年）, 高新技术企业（2022年在库量; "
                "2023年在库量, 复审, 新增, 培育, 招引; 2027年在库量）")
    if not header:
        raise PlanDocumentError("the attachment table has no header", line=line)
    first_line = header[0][0][0]
    groups: list[_HeaderLabel] = []
    years: list[_HeaderLabel] = []
    kinds: list[_HeaderLabel] = []
    for row in header:
        for cell_line, text in row:
            name = _cell_name(text)
            if not name or name in ("序号", "单位"):
                continue
            label = _header_label(name, cell_line)
            if label.year is not None:
                years.append(label)
            elif label.indicator is not None:
                groups.append(label)
            elif label.kind is not None:
                kinds.append(label)
            else:
                raise PlanDocumentError(
                    f"unexpected attachment table header cell “{name}”: {expected}", line=cell_line
                )
    if not groups and not any(y.indicator for y in years):
        raise PlanDocumentError(f"unexpected attachment table header: {expected}", line=first_line)
    # Years to groups: a year label naming its indicator belongs to it; otherwise the years of
    # one group go up, and a lower year starts the next group.
    group_of: list[_HeaderLabel | None] = []
    position = -1
    previous: int | None = None
    for label in years:
        if label.indicator is not None:
            group_of.append(None)
            continue
        if position < 0 or (previous is not None and label.year < previous):
            position += 1
        previous = label.year
        if position >= len(groups):
            raise PlanDocumentError(
                f"cannot tell which indicator the header's “{label.text}” belongs to: {expected}",
                line=label.line,
            )
        group_of.append(groups[position])
    if kinds:
        hosts = [
            label for label, group in zip(years, group_of)
            if label.kind is None and (group is None or group.kind is None)
        ]
        if len(hosts) != 1:
            raise PlanDocumentError(
                f"cannot tell which year the header's “{kinds[0].text}” is under: {expected}",
                line=kinds[0].line,
            )
        hosts[0].children = [k.kind for k in kinds]
    columns: list[tuple[ValueKey, str]] = []
    for label, group in zip(years, group_of):
        indicator = label.indicator or group.indicator
        for kind in label.children or [label.kind or (group.kind if group else None) or "in_library"]:
            key = (indicator, label.year, kind)
            if key not in _DISTRICT_LABELS:
                raise PlanDocumentError(
                    f"unexpected attachment table column “{label.text}”: {expected}",
                    line=label.line,
                )
            if any(key == known for known, _ in columns):
                raise PlanDocumentError(
                    f"the header names the column {_DISTRICT_LABELS[key]} twice", line=label.line
                )
            columns.append((key, _DISTRICT_LABELS[key]))
    missing = [label for key, label in DISTRICT_COLUMNS if key not in dict(columns)]
    if missing:
        raise PlanDocumentError(
            f"the attachment table header has no column {'、'.join(missing)}: {expected}",
            line=first_line,
        )
    return tuple(columns)


def _parse_district_table(lines: list[str], start: int, title: str) -> ParsedTable:
    rows, _end = _group_tab_rows(lines, start)
    header_count = next(
        (i for i, row in enumerate(rows) if re.fullmatch(r"\d+", _cell_name(row[0][1]))), None
    )
    if header_count is None:
        raise PlanDocumentError("the attachment table has no numbered rows", line=start + 1)
    columns = _district_header_columns(rows[:header_count], start + 1)
    width = len(columns)
    parsed: list[ParsedTargetRow] = []
    total: ParsedTargetRow | None = None
    managing: str | None = None
    for cells in rows[header_count:]:
        line = cells[0][0]
        first = _cell_name(cells[0][1])
        if total is not None:
            raise PlanDocumentError("a table row after the 合计 row", line=line)
        if len(cells) < width + 1:
            raise PlanDocumentError(
                f"a table row needs 序号, 单位 and {width} numbers; this one has {len(cells)} cells",
                line=line,
            )
        names = [_cell_name(text) for _, text in cells[:-width]]
        if first == "合计":
            number, unit, parent = None, "合计", None
            row_label: int | str = "合计"
        else:
            if not re.fullmatch(r"\d+", first):
                raise PlanDocumentError(f"“{first}” is not a row number (序号)", line=line)
            number = int(first)
            row_label = number
            names = names[1:]
            if len(names) == 1 or (len(names) == 2 and names[0] == names[1]):
                # One unit column (rows 8–42), or a merged unit cell some tools repeat.
                unit, parent, managing = names[0], None, None
            elif len(names) == 2:
                # Rows 1–7: managing unit, then its task force; an empty managing cell is the
                # lower part of a merged cell, so the unit above carries down.
                if names[0]:
                    managing = names[0]
                if managing is None:
                    raise PlanDocumentError(
                        "the managing unit cell is empty and no row above names one", line=line,
                        row=number,
                    )
                unit, parent = names[1], managing
            else:
                raise PlanDocumentError(
                    f"a table row has {len(names)} unit cells; expected 1 or 2", line=line,
                    row=number,
                )
            if not unit:
                raise PlanDocumentError("the unit cell is empty", line=line, row=number)
        values = {
            key: _count(text, row=row_label, unit=unit if number is not None else None,
                        column=label, line=cell_line)
            for (cell_line, text), (key, label) in zip(cells[-width:], columns)
        }
        row = ParsedTargetRow(number, unit, parent, line, values)
        if number is None:
            total = row
        else:
            parsed.append(row)
    if total is None:
        raise PlanDocumentError("the attachment table has no 合计 row", line=start + 1)
    return ParsedTable(title, parsed, total, columns)


def _parse_district(lines: list[str]) -> ParsedPlan:
    table_start = _find_district_table(lines)
    prose = _prose_lines(lines, table_start)
    title, start_year, end_year, _ = _parse_title(prose)
    parts = _parts(prose)
    goal_lines = _part(prose, parts, "工作目标")
    goals = _extract_goals(_join([line.text for line in goal_lines], pdf=False))
    task_lines = _part(prose, parts, "重点任务")
    sections = _build_tasks(_read_sections(task_lines), level="district")
    for task in (task for section in sections for task in section.tasks):
        _merge_goals(goals, _extract_goals(task.body, task=task.number), task.line)
    # The table title: the lines between "附件" and the table, without the "单位：家" line.
    marker = next(
        (i for i, line in enumerate(prose) if line.text.startswith("附件")), None
    )
    if marker is None:
        raise PlanDocumentError(
            "no 附件 heading before the attachment table", line=table_start + 1
        )
    title_parts = [
        line.text for line in prose[marker + 1 :] if not re.match(r"^单位[：:]", line.text)
    ]
    table = _parse_district_table(lines, table_start, _join(title_parts, pdf=False))
    return ParsedPlan("district", title, start_year, end_year, goals, sections, [table], {})


# --------------------------------------------------------------------------- city document


_ATTACHMENT_RE = re.compile(r"^附件\s*(\d+)$")


def _region_label(parts: list[str], line: int) -> str:
    label = "".join(parts)
    if label.startswith(SUPER_REGION) and label != SUPER_REGION:
        label = label[len(SUPER_REGION) :]  # "主城都市区" spans 中心城区 and 主城新区
    if label not in REGIONS:
        raise PlanDocumentError(f"unknown region label “{label}”", line=line)
    return label


def _parse_city_table(
    prose: list[_Line], start: int, end: int
) -> tuple[ParsedTable, dict[str, str]]:
    """One attachment: title line, header "区域 序号 区县 2022年 …", rows, region labels, 合计."""
    marker_line = prose[start].number
    if start + 1 >= end:
        raise PlanDocumentError("an attachment without a table", line=marker_line)
    title = re.sub(r"[（(]单位[：:].*?[）)]$", "", prose[start + 1].text).strip()
    if "高新技术企业" in title:
        indicator = "high_tech"
    elif "科技型企业" in title:
        indicator = "tech_based"
    else:
        raise PlanDocumentError(
            f"cannot tell the indicator of table “{title}”", line=prose[start + 1].number
        )
    years: list[int] | None = None
    columns: tuple[tuple[ValueKey, str], ...] = ()
    rows: list[ParsedTargetRow] = []
    regions: dict[str, str] = {}
    total: ParsedTargetRow | None = None
    label_parts: list[str] = []
    label_line = 0
    region: str | None = None
    for line in prose[start + 2 : end]:
        tokens = line.text.split()
        if tokens[0] == "区域":
            header_years = [int(t[:-1]) for t in tokens if re.fullmatch(r"\d{4}年", t)]
            if not header_years or (years is not None and header_years != years):
                raise PlanDocumentError("unexpected table header", line=line.number)
            years = header_years
            columns = tuple(((indicator, y, "in_library"), f"{y}年") for y in years)
            continue
        if total is not None:
            continue  # the 注 below the table
        if years is None:
            raise PlanDocumentError(
                "a table row before the header 区域 序号 区县 …", line=line.number
            )
        if tokens[0] == "合计":
            label, numbers, number = "合计", tokens[1:], None
        elif re.fullmatch(r"\d+|★", tokens[0]):
            if len(tokens) < 2:
                raise PlanDocumentError("a table row without a district name", line=line.number)
            label, numbers = tokens[1], tokens[2:]
            number = int(tokens[0]) if tokens[0] != "★" else None
            if label_parts:
                region = _region_label(label_parts, label_line)
                label_parts = []
            if region is None:
                raise PlanDocumentError(f"no region label above {label}", line=line.number)
        else:
            if not label_parts:
                label_line = line.number
            label_parts.append(line.text)  # region labels are printed one piece per line
            continue
        row_label = number if number is not None else ("★" if label != "合计" else "合计")
        if len(numbers) != len(years):
            raise PlanDocumentError(
                f"expected {len(years)} numbers, found {len(numbers)}",
                line=line.number, row=row_label, unit=label if label != "合计" else None,
            )
        values = {
            key: _count(text, row=row_label, unit=label if label != "合计" else None,
                        column=column, line=line.number)
            for text, (key, column) in zip(numbers, columns)
        }
        row = ParsedTargetRow(number, label, None, line.number, values)
        if label == "合计":
            total = row
        else:
            if label in regions:
                raise PlanDocumentError(f"{label} appears twice", line=line.number)
            regions[label] = region
            rows.append(row)
    if total is None:
        raise PlanDocumentError(f"table “{title}” has no 合计 row", line=marker_line)
    return ParsedTable(title, rows, total, columns), regions


def _parse_city(lines: list[str]) -> ParsedPlan:
    prose = _prose_lines(lines)
    title, start_year, end_year, _ = _parse_title(prose)
    parts = _parts(prose)
    goal_lines = _part(prose, parts, "总体要求")
    goals = _extract_goals(_join([line.text for line in goal_lines], pdf=True))
    sections = _build_tasks(_read_sections(_part(prose, parts, "重点任务")), level="city")
    for task in (task for section in sections for task in section.tasks):
        _merge_goals(goals, _extract_goals(task.body, task=task.number), task.line)
    markers = [i for i, line in enumerate(prose) if _ATTACHMENT_RE.match(line.text)]
    tables: list[ParsedTable] = []
    regions: dict[str, str] = {}
    for position, start in enumerate(markers):
        end = markers[position + 1] if position + 1 < len(markers) else len(prose)
        table, table_regions = _parse_city_table(prose, start, end)
        for name, region in table_regions.items():
            if regions.setdefault(name, region) != region:
                row = next(r for r in table.rows if r.unit == name)
                raise PlanDocumentError(
                    f"{name} is under {region} here but under {regions[name]} in the other table",
                    line=row.line,
                )
        tables.append(table)
    return ParsedPlan("city", title, start_year, end_year, goals, sections, tables, regions)


def _parse_lines(lines: list[str]) -> ParsedPlan:
    level = _detect_level(_prose_lines(lines))
    return _parse_district(lines) if level == "district" else _parse_city(lines)


# --------------------------------------------------------------------------- validation


def _check_sections_and_tasks(plan: ParsedPlan, shape: dict) -> None:
    if len(plan.sections) != shape["sections"]:
        raise PlanDocumentError(
            f"expected {shape['sections']} sections of key tasks, found {len(plan.sections)}"
        )
    for expected, section in enumerate(plan.sections, start=1):
        if section.number != expected:
            raise PlanDocumentError(
                f"section （{section.number}） where （{expected}） was expected",
                line=section.tasks[0].line if section.tasks else None,
            )
        if not section.tasks:
            raise PlanDocumentError(f"section {section.number} “{section.title}” has no tasks")
    tasks = plan.tasks
    for expected, task in enumerate(tasks, start=1):
        if task.number != expected:
            raise PlanDocumentError(
                f"task {task.number} where task {expected} was expected "
                f"(tasks are numbered 1..{shape['tasks']} consecutively)",
                line=task.line,
            )
    if len(tasks) != shape["tasks"]:
        raise PlanDocumentError(f"expected {shape['tasks']} key tasks, found {len(tasks)}")


def _check_rows(table: ParsedTable, shape: dict) -> None:
    numbered = [row for row in table.rows if row.number is not None]
    starred = [row for row in table.rows if row.number is None]
    for expected, row in enumerate(numbered, start=1):
        if row.number != expected:
            raise PlanDocumentError(
                f"row number {row.number} where {expected} was expected in “{table.title}”",
                line=row.line, row=row.number, unit=row.unit,
            )
    if len(numbered) != shape["numbered_rows"]:
        raise PlanDocumentError(
            f"“{table.title}” has {len(numbered)} numbered rows; expected {shape['numbered_rows']}",
            line=table.total.line,
        )
    if len(starred) != shape["starred_rows"]:
        raise PlanDocumentError(
            f"“{table.title}” has {len(starred)} ★ rows; expected {shape['starred_rows']}",
            line=table.total.line,
        )
    keys = [key for key, _ in table.columns]
    for row in [*table.rows, table.total]:
        if list(row.values) != keys:
            raise PlanDocumentError(
                "the row's columns do not match the table's", line=row.line,
                row=row.number if row.number is not None else "合计", unit=row.unit,
            )


def _check_district_row_rules(table: ParsedTable) -> None:
    """说明 2: 培育+招引=新增, 新增+2022年存量=2023年在库量 (high-tech enterprises)."""
    labels = _DISTRICT_LABELS
    for row in table.rows:
        v = row.value  # "-" adds nothing to 说明 2's sums
        cultivated = v(("high_tech", 2023, "cultivated"))
        attracted = v(("high_tech", 2023, "attracted"))
        new = v(("high_tech", 2023, "new"))
        stock_2022 = v(("high_tech", 2022, "in_library"))
        stock_2023 = v(("high_tech", 2023, "in_library"))
        if cultivated + attracted != new:
            raise PlanDocumentError(
                f"培育 {cultivated} + 招引 {attracted} = {cultivated + attracted}, but 新增 is {new}",
                line=row.line, row=row.number, unit=row.unit,
                column=labels[("high_tech", 2023, "new")],
            )
        if new + stock_2022 != stock_2023:
            raise PlanDocumentError(
                f"新增 {new} + 2022年在库量 {stock_2022} = {new + stock_2022}, "
                f"but 2023年在库量 is {stock_2023}",
                line=row.line, row=row.number, unit=row.unit,
                column=labels[("high_tech", 2023, "in_library")],
            )


def _check_column_totals(table: ParsedTable) -> None:
    for key, label in table.columns:
        total = sum(row.value(key) for row in table.rows)
        stated = table.total.value(key)
        if total != stated:
            raise PlanDocumentError(
                f"the rows of “{table.title}” add up to {total}, but the 合计 row says {stated}",
                line=table.total.line, row="合计", column=label,
            )


def _check_shares(plan: ParsedPlan) -> None:
    """Regional shares of one total (中心城区 55%, 主城新区 35%, the rest 10%) make 100%."""
    shares: dict[tuple, list[ParsedGoal]] = {}
    for goal in plan.goals:
        if goal.indicator is None and goal.unit == "%" and goal.metric.endswith("占全市总量"):
            shares.setdefault((goal.year, goal.metric), []).append(goal)
    for (year, metric), goals in shares.items():
        total = sum(goal.value for goal in goals)
        if total != 100:
            raise PlanDocumentError(
                f"the regional shares of “{metric}” in {year} add up to {total:g}%, not 100%: "
                + "；".join(goal.text for goal in goals)
            )


def _check_regions(plan: ParsedPlan) -> None:
    names = [{row.unit for row in table.rows} for table in plan.tables]
    for table, units in zip(plan.tables, names):
        if units != names[0]:
            missing = sorted(names[0] ^ units)
            raise PlanDocumentError(
                f"“{table.title}” and “{plan.tables[0].title}” list different districts: "
                + "、".join(missing),
                line=table.total.line,
            )
        for row in table.rows:
            if plan.regions.get(row.unit) not in REGIONS:
                raise PlanDocumentError(
                    f"{row.unit} has no region", line=row.line, row=row.number or "★",
                    unit=row.unit,
                )
    used = set(plan.regions.values())
    if used != set(REGIONS):
        raise PlanDocumentError(
            "the tables do not cover the four regions: missing "
            + "、".join(r for r in REGIONS if r not in used)
        )
