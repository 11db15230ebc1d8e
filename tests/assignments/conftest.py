"""Fixtures for the assignments area: a task with a lead unit and two responsible units, their
users, one milestone per unit, real small PDF files, and a frozen clock."""

from datetime import date, datetime
from types import SimpleNamespace

import pytest

from taskflow.core import clock
from taskflow.extensions import db
from tests.helpers import LazyUsers

# Before the default milestone due date (2024-03-31).
NOW = datetime(2024, 3, 20, 10, 0, tzinfo=clock.LOCAL_TZ)


@pytest.fixture
def pdf_bytes(pdf_factory) -> bytes:
    """A small valid PDF."""
    return pdf_factory("TaskFlow evidence")


@pytest.fixture
def frozen(freeze):
    """The clock pinned to NOW (2024-03-20 10:00 in Shanghai)."""
    return freeze(NOW)


@pytest.fixture
def world(app, frozen, make_task, make_unit, make_assignment, make_milestone, make_user):
    """A task led by 区科技局 with two responsible towns; users of every role; a milestone each."""
    task = make_task(title="培育科技型企业")
    lead_unit = make_unit(name="区科技局", kind="department", peer_group="department")
    town_a = make_unit(name="古南街道")
    town_b = make_unit(name="文龙街道")
    other_task = make_task(title="其他任务")
    lead = make_assignment(task=task, unit=lead_unit, role="lead")
    a = make_assignment(task=task, unit=town_a, role="responsible")
    b = make_assignment(task=task, unit=town_b, role="responsible")
    # town B's assignment on another task, led by nobody: the lead unit must not see it.
    b_other = make_assignment(task=other_task, unit=town_b, role="responsible")
    ms_a = make_milestone(assignment=a, title="2024年第1季度进展", due=date(2024, 3, 31),
                          required_evidence="工作总结及佐证材料")
    ms_b = make_milestone(assignment=b, title="2024年第1季度进展", due=date(2024, 3, 31))
    ms_lead = make_milestone(assignment=lead, title="2024年第1季度进展", due=date(2024, 3, 31))
    ms_b_other = make_milestone(assignment=b_other, title="2024年第1季度进展",
                                due=date(2024, 3, 31))
    users = LazyUsers(make_user, {
        "reporter_a": ("reporter", town_a, {}),
        "reporter_b": ("reporter", town_b, {}),
        "reporter_lead": ("reporter", lead_unit, {}),
        "head_a": ("unit_head", town_a, {}),
        "head_b": ("unit_head", town_b, {}),
        "office": ("office", None, {"display_name": "办公室张三"}),
        "office2": ("office", None, {"display_name": "办公室李四"}),
        "supervisor": ("supervisor", None, {}),
        "leader": ("leader", None, {}),
        "admin": ("admin", None, {}),
    })
    return SimpleNamespace(task=task, other_task=other_task, lead_unit=lead_unit, town_a=town_a,
                           town_b=town_b, lead=lead, a=a, b=b, b_other=b_other, ms_a=ms_a,
                           ms_b=ms_b, ms_lead=ms_lead, ms_b_other=ms_b_other, users=users)


@pytest.fixture
def submit(client):
    """POST a status update with files [(name, bytes)]; returns the response."""
    from io import BytesIO

    def do_submit(milestone_id, files=(), progress="60", narrative="完成了季度工作", **extra):
        data = {"progress": progress, "narrative": narrative, "problems": extra.pop("problems", ""),
                "next_steps": extra.pop("next_steps", "")}
        data["files"] = [(BytesIO(content), name) for name, content in files]
        data.update(extra)
        return client.post(f"/milestones/{milestone_id}/updates", data=data,
                           content_type="multipart/form-data")

    return do_submit


@pytest.fixture
def as_user(client, login):
    """Sign out whoever is signed in and sign this user in."""

    def switch(user):
        client.post("/logout")
        login(user)
        return client

    return switch


def evidence_files(app):
    """Every stored evidence file on disk (temp files excluded)."""
    root = app.config["DATA_DIR"] / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.fixture
def stored_files(app):
    return lambda: evidence_files(app)


@pytest.fixture
def request_ctx(app):
    """A request context, for operations whose messages are translated."""
    with app.test_request_context("/"):
        yield
