"""Figures agree on the demo data of `make run`: every count on the cockpit, the dispatch board, the
score card and the overdue list opens a list of exactly that many rows, and the pages that show
the same measure for the same date show the same number (issue 11)."""

import shutil
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html
from sqlalchemy import select

from taskflow.assignments.models import WAITING_STATES, Milestone
from taskflow.core import clock
from taskflow.enterprises.models import DispatchPeriod
from taskflow.extensions import db
from taskflow.measures import milestones as mm
from taskflow.plans.queries import district_plan
from tests.helpers import make_test_app, postgres_database

TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=clock.LOCAL_TZ)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory, database_url, schema_template, catalog_build_dir):
    """`flask demo setup` as `make run` does it, on 2026-12-01, once for this module: its
    database and its folders (instance with the field key, evidence, audit anchors) to copy."""
    base = tmp_path_factory.mktemp("demo")
    if database_url:
        uri = postgres_database("demo", empty=True)
    else:
        shutil.copyfile(schema_template, base / "demo.sqlite3")
        uri = f"sqlite:///{base / 'demo.sqlite3'}"
    app = make_test_app(base, uri, catalog_build_dir)
    with app.app_context(), clock.frozen_at(NOW):
        if database_url:
            db.create_all()
        result = app.test_cli_runner().invoke(args=["demo", "setup"])
        db.session.remove()
        db.engine.dispose()
    assert result.exit_code == 0, result.output
    return base, uri, result.output


@pytest.fixture
def app(tmp_path, demo_built, catalog_build_dir):
    """An app over a copy of the demo's database and folders (each test may write to its own)."""
    base, uri, _output = demo_built
    for folder in ("instance", "data", "backups"):
        shutil.copytree(base / folder, tmp_path / folder)
    if uri.startswith("sqlite"):
        shutil.copyfile(base / "demo.sqlite3", tmp_path / "test.sqlite3")
        uri = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        uri = postgres_database("demo_copy", empty=True, template=uri)
    app = make_test_app(tmp_path, uri, catalog_build_dir)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo(app, freeze):
    """The demo's district plan; the clock stays on 2026-12-01."""
    freeze(NOW)
    return district_plan()


def test_the_demo_audit_trail_is_intact_and_anchored_outside_the_database(demo, demo_built):
    from taskflow.audit.queries import verify_chain

    assert "chain head anchored" in demo_built[2]
    report = verify_chain()
    assert report.intact and report.anchors_checked == 1, report


def _page(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, url
    return html.fromstring(response.get_data(as_text=True))


def _register_total(client, url: str) -> int:
    """The register's total for a filter (its heading badge counts every page, not one page)."""
    return int(_page(client, url).xpath("//h1/span[contains(@class, 'badge')]")[0].text_content())


def _overdue_rows(client, url: str) -> int:
    page = _page(client, url)
    rows = page.xpath("//tr[@data-milestone]")
    badge = page.xpath("//h1/span[contains(@class, 'badge')]")[0].text_content()
    assert int(badge) == len(rows), url
    return len(rows)


def test_every_number_on_the_demo_opens_a_list_of_that_many_rows(demo, client, login, make_user):
    plan = demo
    # The leader's cockpit: the register figures and the overdue figures.
    login(make_user("leader"))
    cockpit = _page(client, "/cockpit")
    figures = cockpit.xpath("//div[@id='figures']//a[@data-figure]")
    assert {a.get("data-figure") for a in figures} >= {"tech_in_library", "high_tech_valid"}
    for link in figures:
        assert _register_total(client, link.get("href")) == int(link.text_content()), link.get("href")
    total_link = cockpit.get_element_by_id("overdue-total")
    overdue_total = int(total_link.text_content())
    assert overdue_total > 0  # the demo has late units: an empty list would prove nothing
    assert overdue_total == mm.overdue_total(plan.id, TODAY)
    assert _overdue_rows(client, total_link.get("href")) == overdue_total
    per_task = cockpit.xpath("//a[@data-overdue-task]")
    assert per_task and sum(int(a.text_content()) for a in per_task) == overdue_total
    for link in per_task:
        assert _overdue_rows(client, link.get("href")) == int(link.text_content())
    per_unit = [a for a in cockpit.xpath("//a[contains(@href, 'overdue?unit=')]")]
    assert per_unit
    for link in per_unit:
        assert _overdue_rows(client, link.get("href")) == int(link.text_content())

    # The office's board of November, the month the demo has open.
    login(make_user("office"))
    period = db.session.scalar(select(DispatchPeriod).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == date(2026, 11, 1)))
    assert period is not None and period.state == "open"
    board = _page(client, f"/dispatch/{period.id}")
    counts = sorted({(int(a.get("data-count")), a.get("href"))
                     for a in board.xpath("//a[@data-count]")})
    assert len(counts) > 40
    for number, url in counts:
        assert parse_qs(urlsplit(url).query)["on"] == ["2026-11-30"], url
        assert _register_total(client, url) == number, url

    # The supervisor's score cards of November: open and overdue items at 11-30, per unit.
    login(make_user("supervisor"))
    period_page = _page(client, "/scores/periods/2026-11")
    cards = sorted({a.get("href") for a in period_page.xpath("//a[contains(@href, '/units/')]")
                    if "/adjust" not in a.get("href")})
    assert len(cards) > 20
    seen_overdue = 0
    for url in cards:
        link = _page(client, url).xpath("//td[@id='overdue-open']/a[@data-count]")
        assert link, url
        number = int(link[0].get("data-count"))
        assert "as_of=2026-11-30" in link[0].get("href")
        assert _overdue_rows(client, link[0].get("href")) == number, url
        seen_overdue += number
    assert seen_overdue > 0


def test_the_demo_is_consistent_on_its_first_visit(demo, app):
    """Closed milestones have their accepted 100 % report; every item overdue past the urge
    threshold that the unit has not reported on has its notice; last month's dispatch is open."""
    from taskflow.assignments.models import Milestone, StatusUpdate
    from taskflow.notices.models import urge_notice_items

    plan = demo
    urge_after = app.config["URGE_AFTER_WORKING_DAYS"]
    chased = [row for row in mm.overdue_list(plan.id, TODAY)
              if row.state not in WAITING_STATES and row.working_days_overdue >= urge_after]
    assert chased
    with_notice = set(db.session.scalars(select(urge_notice_items.c.milestone_id)))
    assert [row.milestone_id for row in chased if row.milestone_id not in with_notice] == []
    closed = db.session.scalars(select(Milestone.id).where(mm.closed_clause(TODAY))).all()
    accepted_full = set(db.session.scalars(select(StatusUpdate.milestone_id).where(
        StatusUpdate.state == "accepted", StatusUpdate.progress == 100)))
    assert closed and set(closed) <= accepted_full
    assert db.session.scalar(select(DispatchPeriod.state).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == date(2026, 11, 1))) == "open"


def test_the_demo_bulletin_counts_overdue_items_as_of_the_quarter_end(demo, client, login,
                                                                      make_user):
    """The Q3 bulletin says 数据截至 2026-09-30 and counts the items overdue on that day, closed
    since or not; its number opens the overdue list of that day with as many rows."""
    plan = demo
    quarter_end = date(2026, 9, 30)
    login(make_user("office"))
    bulletins = _page(client, "/scores/bulletins")
    links = [a.get("href") for a in bulletins.xpath("//a[contains(@href, '/bulletins/')]")
             if a.get("href").rstrip("/").split("/")[-1].isdigit()]
    assert links
    page = _page(client, links[0])
    assert "数据截至 2026-09-30" in page.get_element_by_id("as-of").text_content()
    red = page.get_element_by_id("red-count")
    number = int(red.get("data-count"))
    assert number == mm.overdue_total(plan.id, quarter_end) > 0
    assert _overdue_rows(client, red.get("href")) == number
    # Items overdue at the quarter's end and closed by today still count there.
    overdue_then = {row.milestone_id for row in mm.overdue_list(plan.id, quarter_end)}
    closed_since = len(db.session.scalars(select(Milestone.id).where(
        Milestone.id.in_(overdue_then), mm.closed_clause(TODAY))).all())
    assert closed_since > 0
    listed = {int(row.get("data-milestone")) for row in
              _page(client, red.get("href")).xpath("//tr[@data-milestone]")}
    closed_ids = set(db.session.scalars(select(Milestone.id).where(
        Milestone.id.in_(listed), mm.closed_clause(TODAY))))
    assert len(closed_ids) == closed_since
