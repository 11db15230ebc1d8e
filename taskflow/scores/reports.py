"""The monthly innovation report (创新报表, Excel) and the quarterly bulletin (季通报, Word).

Charts are drawn with matplotlib (Agg backend) into PNG images. Chinese labels need a CJK font;
when none is installed the charts label units by number and the document's tables carry the
names (the numbers match the tables' 序号 column).
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import lru_cache

from flask_babel import gettext as _

from taskflow.core.spreadsheets import Report, report_workbook
from taskflow.extensions import db
from taskflow.measures import milestones as mm
from taskflow.plans.models import Plan
from taskflow.scores import queries
from taskflow.scores.models import Bulletin, ScorePeriod
from taskflow.scores.rules import parse_period_key
from taskflow.units.labels import peer_group_label

CJK_FONT_NAMES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                  "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC",
                  "Noto Serif CJK SC", "AR PL UMing CN", "Droid Sans Fallback")

GRADE_COLOURS = {"green": "#2fb344", "blue": "#206bc4", "yellow": "#f2b01e",
                 "orange": "#f76707", "red": "#d63939"}


def grade_label(grade: str) -> str:
    return {"green": _("Excellent (green)"), "blue": _("Good (blue)"), "yellow": _("Fair (yellow)"),
            "orange": _("Warning (orange)"), "red": _("Poor (red)")}.get(grade, grade)


def light_text(light: str) -> str:
    return {"green": _("Green"), "yellow": _("Yellow"), "red": _("Red"), "grey": "—"}.get(light, light)


def period_label(key: str) -> str:
    period = parse_period_key(key)
    if period.kind == "month":
        return _("%(year)s-%(month)s", year=period.year, month=f"{period.starts_on.month:02d}")
    if period.kind == "quarter":
        return _("Q%(q)s %(year)s", q=key[-1], year=period.year)
    return str(period.year)


def _num(value) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return value


# ---------------------------------------------------------------- monthly innovation report


def monthly_rows(plan: Plan, key: str) -> tuple[list[str], list[list], list, date]:
    """Header, unit rows, the 合计 row and the as-of day of the monthly innovation report.

    The figures are the district's figures of the month as of its last day
    (taskflow.measures.indicators.month_figures), printed as the dispatch board prints them."""
    from taskflow.enterprises import labels as el, queries as eq
    from taskflow.enterprises.models import DispatchPeriod
    from taskflow.measures import indicators as ind

    period = parse_period_key(key)
    if period.kind != "month":
        raise ValueError("the innovation report is monthly")
    district = ind.month_figures(plan, period.starts_on)
    dispatch = db.session.scalar(db.select(DispatchPeriod).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == period.starts_on))
    confirmed = eq.confirmations(dispatch.id) if dispatch else {}
    scored = queries.reference_period(plan.id, key)
    cards = {}
    if scored is not None:
        for group_cards in queries.ranking(scored).values():
            for card in group_cards:
                cards[card.unit_id] = card
    header = [_("No."), _("Unit"), _("Tech-based enterprises in library"), _("Year target"),
              _("Expected to date"), _("Done / expected"), _("Light"),
              _("Valid high-tech enterprises"), _("Year target"), _("Expected to date"),
              _("Done / expected"), _("Light"), _("New high-tech this year"), _("Cultivated"),
              _("Attracted"), _("Dispatch confirmed"), _("Score"), _("Grade"), _("Rank in peer group")]

    def progress_cells(figures, progress, figure):
        p = progress[figure]
        return [figures[figure], p.target,
                round(p.expected, 1) if p.expected is not None else None,
                el.progress_text(p), light_text(p.light)]

    def figure_cells(figures, progress):
        return (progress_cells(figures, progress, "tech_in_library")
                + progress_cells(figures, progress, "high_tech_valid")
                + [figures["high_tech_new"], figures["cultivated"], figures["attracted"]])

    body = []
    for number, row in enumerate(district.rows, start=1):
        confirmation = confirmed.get(row.unit.id)
        card = cards.get(row.unit.id)
        body.append([number, row.unit.name] + figure_cells(row.figures, row.progress) + [
            (_("Yes") if confirmation and confirmation.confirmed_at else _("No")) if dispatch else "—",
            _num(card.total) if card else None, grade_label(card.grade) if card else "",
            f"{card.rank}/{card.group_size}" if card and card.rank else "",
        ])
    total_row = (["", _("District total")]
                 + figure_cells(district.totals, district.against_district) + ["", None, "", ""])
    return header, body, total_row, district.as_of


def monthly_report(plan: Plan, key: str) -> bytes:
    """The 创新报表 of a month as .xlsx: figures, targets, completion, lights, scores and ranks."""
    header, body, total_row, as_of = monthly_rows(plan, key)
    title = _("Innovation report %(period)s", period=period_label(key))
    sheets = [Report(title=title, sheet_name=_("Innovation report"), as_of=as_of, header=header,
                     rows=body, totals=[total_row])]
    scored = queries.reference_period(plan.id, key)
    if scored is not None:
        ranking_header = [_("Peer group"), _("Rank"), _("Unit"), _("Task execution"),
                          _("Indicator completion"), _("Responsiveness"), _("Quality"),
                          _("Incentive"), _("Computed total"), _("Adjustment"), _("Total"),
                          _("Grade"), _("Movement")]
        ranking_rows = []
        for group, cards in queries.ranking(scored).items():
            for card in cards:
                ranking_rows.append([
                    peer_group_label(group), card.rank, card.unit.name, _num(card.execution),
                    _num(card.indicators), _num(card.responsiveness), _num(card.quality),
                    _num(card.incentive), _num(card.computed_total), _num(card.adjustment),
                    _num(card.total), grade_label(card.grade), card.movement,
                ])
        sheets.append(Report(
            title=_("Peer rankings %(period)s", period=period_label(scored.key)),
            sheet_name=_("Peer rankings"), as_of=as_of, header=ranking_header,
            rows=ranking_rows))
    return report_workbook(sheets)


# ---------------------------------------------------------------- charts


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONT_NAMES:
        if name in installed:
            return name
    return None


def _chart_labels(names: list[str]) -> list[str]:
    return names if cjk_font() else [str(i) for i in range(1, len(names) + 1)]


@contextmanager
def _png_chart(size: tuple[float, float]):
    """(figure, axes, font) drawn with the CJK font when one is installed; the PNG bytes land
    in the yielded dict's "png" once the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {"font.family": ["DejaVu Sans"]}
    out: dict = {}
    with matplotlib.rc_context(rc):
        fig, ax = plt.subplots(figsize=size, dpi=110)
        yield fig, ax, font, out
        ax.grid(axis="y", alpha=.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
    out["png"] = buffer.getvalue()


def bar_chart(title: str, names: list[str], values: list[float], colours: list[str] | None = None,
              *, ylabel: str = "") -> bytes:
    """A PNG bar chart (labels fall back to numbers without a CJK font)."""
    with _png_chart((7.2, 3.4)) as (_fig, ax, font, out):
        labels = _chart_labels(names)
        ax.bar(range(len(values)), values, color=colours or "#206bc4")
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(labels, rotation=45 if font else 0, ha="right" if font else "center",
                           fontsize=8)
        ax.set_title(title if font else "")
        if ylabel and font:
            ax.set_ylabel(ylabel)
        if values:
            low = min(values)
            ax.set_ylim(max(0, min(low - 5, 60)), max(values) + 5)
    return out["png"]


def progress_chart(title: str, labels: list[str], actual: list[float], target: list[float]) -> bytes:
    """A PNG grouped bar chart: actual against target per indicator."""
    with _png_chart((6.0, 3.0)) as (_fig, ax, font, out):
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], actual, width=0.4, color="#206bc4",
               label=_("Actual") if font else "actual")
        ax.bar([x + 0.2 for x in xs], target, width=0.4, color="#c5cad3",
               label=_("Year target") if font else "target")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(_chart_labels(labels))
        ax.set_title(title if font else "")
        ax.legend()
    return out["png"]


# ---------------------------------------------------------------- quarterly bulletin


def bulletin_data(period: ScorePeriod, *, today: date) -> dict:
    """The tables of a quarter's bulletin, taken once when the draft is made (JSON-able)."""
    from taskflow.enterprises import labels as el
    from taskflow.measures import indicators as ind

    plan = db.session.get(Plan, period.plan_id)
    day = min(period.ends_on, today)
    rankings = {}
    for group, cards in queries.ranking(period).items():
        rankings[group] = [
            {"rank": c.rank, "unit": c.unit.name, "unit_id": c.unit_id, "total": float(c.total),
             "grade": c.grade, "movement": c.movement, "previous_rank": c.previous_rank,
             "execution": float(c.execution),
             "indicators": float(c.indicators), "responsiveness": float(c.responsiveness),
             "quality": float(c.quality), "incentive": float(c.incentive)}
            for c in cards
        ]
    # As of the period's end: an item overdue then is listed even if it was closed later, and its
    # days overdue are working days counted to that day (taskflow.measures.milestones).
    red_items = [
        {"milestone_id": row.milestone_id, "title": row.title, "due": row.due_date.isoformat(),
         "days": row.working_days_overdue, "unit": row.unit_name, "role": row.role,
         "task": row.task_number}
        for row in mm.overdue_list(plan.id, day)
    ]
    red_units = [{"unit": row.name, "count": row.count, "lead": row.lead}
                 for row in mm.overdue_counts(plan.id, day, by="unit", limit=10)]
    district = ind.district_figures(plan, day, with_units=False)
    progress_rows = []
    for figure, label in (("tech_in_library", _("Tech-based enterprises in library")),
                          ("high_tech_valid", _("Valid high-tech enterprises"))):
        assessed = district.against_district[figure]
        progress_rows.append({
            "figure": figure, "label": label, "actual": district.totals.get(figure, 0),
            "target": round(assessed.target) if assessed.target is not None else None,
            "expected": round(assessed.expected, 1) if assessed.expected is not None else None,
            "completion_pct": round(assessed.completion_pct, 1)
            if assessed.completion_pct is not None else None,
            "light": assessed.light, "shown": el.progress_text(assessed),
        })
    recognitions = [
        {"unit": r.unit.name, "title": r.title, "awarded": r.awarded_on.isoformat(),
         "points": float(r.points)}
        for r in queries.recognitions(plan.id)
        if period.starts_on <= r.awarded_on <= period.ends_on
    ]
    return {
        "title": bulletin_title(period.key),
        "period": period.key, "revision": period.revision, "as_of": day.isoformat(),
        "rankings": rankings, "red_items": red_items, "red_units": red_units,
        "progress": progress_rows, "recognitions": recognitions,
    }


def long_date(iso: str) -> str:
    """2026-09-30 → 2026年9月30日 (zh_CN), the way a document's text writes a date."""
    day = date.fromisoformat(iso)
    return _("%(year)s-%(month)s-%(day)s", year=day.year, month=day.month, day=day.day)


def quarter_label(key: str) -> str:
    """2026年第三季度: the quarter in words, as a document's text has it."""
    period = parse_period_key(key)
    quarter = {1: _("first quarter"), 2: _("second quarter"), 3: _("third quarter"),
               4: _("fourth quarter")}[int(key[-1])]
    return _("%(quarter)s of %(year)s", quarter=quarter, year=period.year)


def bulletin_title(key: str) -> str:
    """2026年第三季度“双倍增”行动工作通报."""
    return _("Bulletin on the double-doubling action, %(period)s", period=quarter_label(key))


def draft_sections(data: dict) -> list[tuple[str, str, str]]:
    """(key, title, body) of the bulletin's editable sections, drafted from its data."""
    key = data["period"]
    period = quarter_label(key) if "Q" in key else period_label(key)
    top = []
    for group, rows in data["rankings"].items():
        if rows:
            top.append(_("%(group)s: %(unit)s first with %(total)s points",
                         group=peer_group_label(group), unit=rows[0]["unit"], total=rows[0]["total"]))
    progress_text = "；".join(
        _("%(label)s %(actual)s (year target %(target)s, %(pct)s%% of the year's increment)",
          label=p["label"], actual=p["actual"], target=p["target"] if p["target"] is not None else "—",
          pct=p["completion_pct"] if p["completion_pct"] is not None else "—")
        for p in data["progress"])
    red_units = "、".join(u["unit"] for u in data["red_units"][:5])
    commended = "、".join(sorted({r["unit"] for r in data["recognitions"]}))
    return [
        ("intro", _("1. Overall situation"),
         _("In %(period)s the units concerned pushed the double-doubling action forward as the "
           "work plan requires. The joint-meeting office has assessed each unit's task execution, "
           "indicator completion, responsiveness and reporting quality; the results are reported "
           "below.", period=period)),
        ("rankings", _("2. Peer rankings"),
         "；".join(top) + "。" if top else _("No scores were computed for this quarter.")),
        ("red_list", _("3. Overdue items (red list)"),
         _("On %(day)s, %(n)s items were overdue (counted as of that day, including items closed "
           "since); the units with the most overdue items are: %(units)s. They are to finish them "
           "within a set time and report back.",
           day=long_date(data["as_of"]), n=len(data["red_items"]),
           units=red_units or _("none"))),
        ("progress", _("4. Progress against the targets"), progress_text + "。"),
        ("commendations", _("5. Commendations"),
         _("The following units are commended: %(units)s.", units=commended)
         if commended else _("No recognitions were entered this quarter.")),
        ("requirements", _("6. Next steps"),
         _("Every unit is to check its overdue items one by one, fill in the monthly figures on "
           "time and answer urge notices by their response date.")),
    ]


def bulletin_docx(bulletin: Bulletin) -> bytes:
    """The bulletin as a Word document laid out as a 公文 (taskflow.scores.bulletin_docx)."""
    from taskflow.scores import bulletin_docx as docx_builder

    return docx_builder.build(bulletin)
