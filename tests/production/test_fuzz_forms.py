"""The main POST routes, fuzzed: random field values posted by a user who may use the form.

Values: unicode text, control characters, NUL, huge strings, negative and huge numbers, NaN and
infinities, impossible dates, repeated fields (a list where one value is expected), missing
fields, and valid forms with one or two fields spoiled. Every answer is 2xx, 3xx or 4xx (the
test client re-raises any exception, so a crash fails the example), and a refusal (4xx) writes
nothing: every table keeps its row count and the object posted to keeps its columns.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from taskflow.core import clock
from taskflow.extensions import db

EXAMPLES = 80
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
SPECIAL = [
    "", " ", "\x00", "\t\r\n", "0", "-1", "-0", "1", "100", "101", "2147483648", "-9" * 30,
    "1e309", "-1e309", "NaN", "nan", "sNaN", "-sNaN", "Infinity", "-inf", "0x1F", "1_000",
    "١٢", "１２", "½", "None", "null", "true", "[]", "{}", "'; DROP TABLE users; --",
    "<script>alert(1)</script>", "{{7*7}}", "%s%s%n", "../../etc/passwd", "\u202e\u200b\ufeff",
    "2024-02-30", "2024-13-01", "0000-00-00", "0001-01-01", "9999-12-31", "10000-01-01",
    "2024-1-1", "2024/01/01", "1970-01-01T00:00:00Z",
    "accept", "return", "approve", "grant", "refuse", "incomplete", "no_evidence",
    "false_reporting", "reporter", "unit_head", "office", "admin", "leader", "supervisor",
    "stock", "cultivated", "attracted", "active", "closed", "y", "on", "off",
]


def _huge(ch: str, n: int) -> str:
    return ch * n


VALUE = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(TEXT_CHARS, max_size=60),
    st.text(st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=8),
    st.builds(_huge, TEXT_CHARS, st.integers(4_000, 60_000)),
    st.integers(-(10 ** 40), 10 ** 40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(lambda d: d.isoformat()),
)
FIELD = st.one_of(VALUE, VALUE, VALUE, st.lists(VALUE, min_size=2, max_size=3))


def form(valid: dict, extra_names: tuple[str, ...] = ()):
    """Either a random form (any field may be missing) or a valid one with fields spoiled."""
    names = tuple(valid) + extra_names
    random_form = st.fixed_dictionaries({}, optional={name: FIELD for name in names})

    @st.composite
    def spoiled(draw):
        data = dict(valid)
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
            if draw(st.booleans()) and name in data:
                del data[name]
            else:
                data[name] = draw(FIELD)
        return data

    return st.one_of(random_form, spoiled(), spoiled(), st.just(dict(valid)))


def table_counts() -> dict[str, int]:
    db.session.rollback()
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def columns(obj) -> dict:
    db.session.rollback()
    db.session.refresh(obj)
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}


def post_and_check(client, url: str, data: dict, target=None) -> int:
    """POST; never 5xx; a 4xx changes no table and not the target object."""
    before = table_counts()
    snapshot = columns(target) if target is not None else None
    response = client.post(url, data=data)
    status = response.status_code
    assert status < 500, (status, url)
    if status >= 400:
        assert table_counts() == before, (status, url)
        if target is not None:
            assert columns(target) == snapshot
    event(f"{url.split('/')[1]} → {status}")
    db.session.rollback()
    return status


@pytest.fixture
def fuzz_world(reporting_world, make_milestone, signed_in):
    """Clients for a reporter, the office and an admin, and a way to get a fresh milestone."""
    world = reporting_world
    world.reporter = signed_in(world.users.reporter)
    world.office = signed_in(world.users.office)
    world.admin = signed_in(world.users.admin)
    world.new_milestone = lambda: make_milestone(assignment=world.assignment, due=world.due,
                                                 title="模糊测试节点")
    return world


@given(data=form({"progress": "60", "narrative": "完成了季度工作", "problems": "无",
                  "next_steps": "继续推进"}))
@FUZZ
def test_status_update_form(fuzz_world, data):
    milestone = fuzz_world.new_milestone()
    status = post_and_check(fuzz_world.reporter, f"/milestones/{milestone.id}/updates", data,
                            milestone)
    assert status in (302, 400, 409)


@given(data=form({"decision": "return", "reason_code": "incomplete", "comment": "请补充佐证材料"}))
@FUZZ
def test_review_form(fuzz_world, data):
    from taskflow.assignments.operations import submit_update

    milestone = fuzz_world.new_milestone()
    update = submit_update(milestone, fuzz_world.users.reporter, progress=50, narrative="进展",
                           problems="", next_steps="")
    db.session.commit()
    status = post_and_check(fuzz_world.office, f"/updates/{update.id}/review", data, update)
    assert status in (302, 400, 409)
    if status >= 400:
        assert columns(milestone)["state"] == "submitted"


@given(data=form({"requested_due_date": "", "reason": "企业材料尚未齐备"}))
@FUZZ
def test_extension_request_form(fuzz_world, data):
    milestone = fuzz_world.new_milestone()
    if data.get("requested_due_date") == "":
        data["requested_due_date"] = (fuzz_world.due + timedelta(days=14)).isoformat()
    status = post_and_check(fuzz_world.reporter, f"/milestones/{milestone.id}/extensions", data,
                            milestone)
    assert status in (302, 400, 409)


@given(data=form({"version_id": "1", "title": "2024年第2季度进展", "due_date": "2024-06-30",
                  "weight": "1.5", "required_evidence": "会议纪要"}))
@FUZZ
def test_milestone_edit_form(fuzz_world, data):
    milestone = fuzz_world.new_milestone()
    status = post_and_check(fuzz_world.office, f"/planning/milestones/{milestone.id}/edit", data,
                            milestone)
    assert status in (302, 400, 409)
    if status == 302:
        saved = columns(milestone)
        assert 0 <= saved["weight"] <= Decimal(1000) and 0 < len(saved["title"]) <= 200


@given(data=form({"username": "new.user", "password": "Qj-plan-2024-safe", "confirm":
                  "Qj-plan-2024-safe", "role": "reporter", "unit_id": "", "display_name": "新同事",
                  "email": "new@qijiang.gov.cn"}))
@FUZZ
def test_user_create_form(fuzz_world, data):
    from taskflow.accounts.models import User

    if data.get("unit_id") == "":
        data["unit_id"] = str(fuzz_world.town.id)
    if "username" in data and isinstance(data["username"], str) and data["username"] == "new.user":
        data["username"] = f"new.user{clock.utcnow().timestamp():.0f}"[:80]
    users_before = db.session.scalar(select(func.count(User.id)))
    status = post_and_check(fuzz_world.admin, "/admin/users/new", data)
    assert status in (302, 400)
    users_after = db.session.scalar(select(func.count(User.id)))
    assert users_after == users_before + (1 if status == 302 else 0)


@given(data=form({"name": "重庆綦江某科技有限公司", "credit_code": "", "unit_id": "",
                  "source": "cultivated", "tech_in_library_on": "2024-05-01",
                  "tech_removed_on": "", "high_tech_cert_no": "", "high_tech_cert_on": "",
                  "specialised_sme": "y", "status": "active", "closed_on": "", "version": ""}))
@FUZZ
def test_enterprise_create_form(fuzz_world, data):
    from taskflow.enterprises.creditcode import generate
    from taskflow.enterprises.models import Enterprise

    if data.get("credit_code") == "":
        import random

        data["credit_code"] = generate(random.Random(db.session.scalar(
            select(func.count(Enterprise.id))) + 1))
    if data.get("unit_id") == "":
        data["unit_id"] = str(fuzz_world.town.id)
    before = db.session.scalar(select(func.count(Enterprise.id)))
    status = post_and_check(fuzz_world.office, "/enterprises/new", data)
    assert status in (200, 302, 400, 403, 404)
    after = db.session.scalar(select(func.count(Enterprise.id)))
    if status != 302:
        assert after == before  # a form shown again (200) saved nothing either


@given(data=form({"response": "已完成整改，预计月底前办结。"}))
@FUZZ
def test_notice_response_form(fuzz_world, data):
    from taskflow.notices.operations import issue_notice

    milestone = fuzz_world.new_milestone()
    notice = issue_notice(fuzz_world.town.id, [milestone], "yellow",
                          clock.local_today() + timedelta(days=5))
    db.session.commit()
    status = post_and_check(fuzz_world.reporter, f"/notices/{notice.id}/respond", data, notice)
    assert status in (302, 400)
    saved = columns(notice)
    if status == 400:
        assert saved["responded_at"] is None and saved["response"] in (None, "")
