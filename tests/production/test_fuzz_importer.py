"""The plan importer, fuzzed: random edits to the two seed documents.

A damaged document must either import cleanly or be refused with one of the importer's own
errors (PlanDocumentError, UnknownUnitError, DirectoryError, PlanImportError), never another
exception; and a refused import, rolled back as the CLI does, leaves every table as it was.
"""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from taskflow.extensions import db
from taskflow.plans.documents import PlanDocumentError, parse_plan_text, validate
from taskflow.plans.operations import PlanImportError, import_plan_file
from taskflow.units.directory import DirectoryError, UnknownUnitError

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DISTRICT = "qijiang-work-plan-2023-2027.txt"
CITY = "chongqing-action-plan-2023-2027.txt"
TEXTS = {name: (SEEDS / name).read_text(encoding="utf-8") for name in (DISTRICT, CITY)}
REFUSALS = (PlanDocumentError, UnknownUnitError, DirectoryError, PlanImportError)
# Characters the documents are made of, and some that break parsers.
JUNK = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("0123456789０１２３４５６７８９，。；：（）、\t 　—-…%％")),
        st.sampled_from(list("牵头单位责任单位区科技局各园城街镇合计说明附件一二三四五六")),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    min_size=1, max_size=12,
)

SLOW = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def edited(draw, name: str | None = None):
    """(document name, edited text, [edit descriptions])."""
    name = name or draw(st.sampled_from([DISTRICT, CITY]))
    lines = TEXTS[name].split("\n")
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(
            ["digit", "digit", "delete", "duplicate", "junk", "junk", "truncate", "unicode_line",
             "swap", "table_tab"]))
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        if kind == "digit":
            positions = [i for i, ch in enumerate(line) if ch.isdigit()]
            if not positions:
                continue
            pos = draw(st.sampled_from(positions))
            digit = draw(st.sampled_from("0123456789"))
            lines[index] = line[:pos] + digit + line[pos + 1:]
        elif kind == "delete":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, line)
        elif kind == "junk":
            pos = draw(st.integers(0, len(line)))
            lines[index] = line[:pos] + draw(JUNK) + line[pos:]
        elif kind == "truncate":
            text = "\n".join(lines)
            lines = text[:draw(st.integers(0, len(text)))].split("\n")
        elif kind == "unicode_line":
            lines[index] = draw(st.text(max_size=40))
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == "table_tab":
            pos = draw(st.integers(0, len(line)))
            lines[index] = line[:pos] + draw(st.sampled_from(["\t", "\t\t", "\t-\t", "\t0"])) \
                + line[pos:]
        edits.append(f"{kind}@{index + 1}")
        if not lines:
            lines = [""]
    return name, "\n".join(lines), edits


def _table_counts() -> dict[str, int]:
    db.session.rollback()
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def _import(tmp_path: Path, name: str, data: bytes):
    target = tmp_path / "fuzz" / name
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(data)
    return import_plan_file(target)


@given(edited())
@FAST
def test_the_parser_refuses_damage_only_with_plan_document_errors(case):
    """Parsing and checking (no database) of every kind of edit."""
    _name, text, _edits = case
    try:
        validate(parse_plan_text(text))
    except PlanDocumentError as error:
        assert str(error)  # a refusal always says why
        event("refused")
    else:
        event("accepted")


@pytest.fixture
def base_state(app, seeds_dir, make_user):
    """Both plans imported, and a milestone on every district assignment (so an import that
    would drop a reporting unit must stop part-way, after earlier writes)."""
    from taskflow.assignments.models import Assignment, Milestone
    from taskflow.plans.models import KeyTask, Plan

    import_plan_file(seeds_dir / CITY)
    import_plan_file(seeds_dir / DISTRICT)
    db.session.commit()
    district = db.session.scalar(select(Plan).where(Plan.level == "district"))
    from datetime import date

    for assignment in db.session.scalars(
            select(Assignment).join(KeyTask).where(KeyTask.plan_id == district.id)):
        db.session.add(Milestone(assignment_id=assignment.id, title="2024年第1季度进展",
                                 due_date=date(2024, 3, 31), original_due_date=date(2024, 3, 31)))
    db.session.commit()
    return _table_counts()


def _check_import(tmp_path, name, data, base):
    try:
        result = _import(tmp_path, name, data)
    except REFUSALS as error:
        assert str(error)
        outcome = f"refused: {type(error).__name__}"
    else:
        assert result.plan_code
        outcome = "imported"
    # The caller rolls back on a refusal (the CLI does); an accepted import is rolled back too
    # here so that every example starts from the same database.
    db.session.rollback()
    assert _table_counts() == base
    event(outcome)
    return outcome


@given(case=edited(DISTRICT))
@SLOW
def test_district_plan_edits_import_or_are_refused_cleanly(app, tmp_path, base_state, case):
    name, text, _edits = case
    _check_import(tmp_path, name, text.encode("utf-8"), base_state)


@given(case=edited(CITY))
@settings(SLOW, max_examples=30)
def test_city_plan_edits_import_or_are_refused_cleanly(app, tmp_path, base_state, case):
    name, text, _edits = case
    _check_import(tmp_path, name, text.encode("utf-8"), base_state)


@given(data=st.data())
@settings(SLOW, max_examples=25)
def test_byte_level_damage_is_refused_cleanly(app, tmp_path, base_state, data):
    """Invalid UTF-8, a byte-order mark, NUL bytes, CRLF line ends, a binary file."""
    name = data.draw(st.sampled_from([DISTRICT, CITY]))
    raw = TEXTS[name].encode("utf-8")
    kind = data.draw(st.sampled_from(["bad_utf8", "bom", "nul", "crlf", "binary", "empty"]))
    pos = data.draw(st.integers(0, len(raw)))
    damaged = {
        "bad_utf8": raw[:pos] + b"\xff\xfe\xc3" + raw[pos:],
        "bom": b"\xef\xbb\xbf" + raw,
        "nul": raw[:pos] + b"\x00" + raw[pos:],
        "crlf": raw.replace(b"\n", b"\r\n"),
        "binary": data.draw(st.binary(max_size=2000)),
        "empty": b"",
    }[kind]
    _check_import(tmp_path, name, damaged, base_state)


def test_a_nul_byte_in_a_text_field_is_refused_before_the_database(app, tmp_path, base_state):
    """A NUL inside the plan's title reached PostgreSQL, which refuses NUL in text (found by the
    byte-level fuzz test): the parser now refuses any control character but tab and line ends."""
    raw = TEXTS[DISTRICT].encode("utf-8")
    pos = raw.index("綦江区".encode("utf-8")) + len("綦".encode("utf-8"))
    with pytest.raises(PlanDocumentError, match=r"line \d+: control character U\+0000"):
        _import(tmp_path, DISTRICT, raw[:pos] + b"\x00" + raw[pos:])
    assert _table_counts() == base_state


def test_a_stopped_import_after_partial_writes_leaves_nothing(app, tmp_path, base_state):
    """Deterministic: task 1 loses its responsible units while they have milestones. The import
    has written by then (units, tasks) and stops with PlanImportError; the rollback undoes all."""
    text = TEXTS[DISTRICT]
    old = "（牵头单位：区科技局；责任单位：区教委、区经济信息委、区大数据发展局、区市场监管局，各产业链专班，各园城、街镇）"
    assert text.count(old) == 1
    edited_text = text.replace(old, "（牵头单位：区科技局；责任单位：区教委）")
    # Also a prose change earlier in the task, so the import has something to write first.
    edited_text = edited_text.replace("1.引进创立科技型企业。", "1.引进创立科技型企业。新增一句。", 1)
    with pytest.raises(PlanImportError, match="milestones"):
        _import(tmp_path, DISTRICT, edited_text.encode("utf-8"))
    db.session.rollback()
    assert _table_counts() == base_state
