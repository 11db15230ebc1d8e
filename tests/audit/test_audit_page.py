"""The audit page: who sees it, filters, paging, readable diffs, Excel export, query counts."""

from datetime import datetime, timedelta, timezone
from io import BytesIO
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from tests.printing import needs_office, page_texts, pdf_info, to_pdf

ROLES = ("reporter", "unit_head", "office", "supervisor", "leader", "admin")
ALLOWED = {"office", "supervisor", "admin"}
DAY = datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)  # 2024-05-06 10:00 in Qijiang


@pytest.fixture
def user_for_role(make_user, make_unit):
    unit = make_unit(name="古南街道")

    def factory(role):
        return make_user(role, unit=unit if role in ("reporter", "unit_head") else None)

    return factory


@pytest.mark.parametrize("role", ROLES)
def test_audit_pages_for_every_role(client, login, user_for_role, role):
    login(user_for_role(role))
    for url in ("/audit/", "/audit/?action=user.create", "/audit/export.xlsx"):
        response = client.get(url)
        assert response.status_code == (200 if role in ALLOWED else 403), url


def test_audit_pages_need_sign_in(client):
    for url in ("/audit/", "/audit/export.xlsx"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def events(make_user, record_event):
    """Five events by two actors over three days."""
    wang = make_user("office", username="office_wang")
    li = make_user("supervisor", username="super_li")
    return {
        "old": record_event(wang, "milestone.update", at=DAY - timedelta(days=2), object_id=7,
                            before={"due_date": "2024-03-31", "title": "一季度"},
                            after={"due_date": "2024-04-30", "title": "一季度"},
                            summary="延期"),
        "review": record_event(wang, "update.accept", at=DAY, object_type="status_updates",
                               object_id=11, after={"state": "accepted"}),
        "score": record_event(li, "score.adjust", at=DAY, object_type="score_cards",
                              object_id=3, before={"total": 88}, after={"total": 90},
                              summary="加分：材料补齐"),
        "late": record_event(li, "milestone.update", at=DAY + timedelta(days=1), object_id=8,
                             before={"weight": "1.00"}, after={"weight": "2.00"}),
        "formula": record_event(li, "milestone.update", at=DAY + timedelta(days=1), object_id=9,
                                after={"title": "=HYPERLINK(\"http://evil\")"},
                                summary="=1+1"),
    }


def shown_ids(page: str) -> list[int]:
    import re

    return [int(x) for x in re.findall(r'data-event="(\d+)"', page)]


def test_newest_first_and_filters(client, login, make_user, events):
    login(make_user("office", username="office_viewer"))
    ids = {k: e.id for k, e in events.items()}
    page = client.get("/audit/").get_data(as_text=True)
    listed = shown_ids(page)
    assert listed == sorted(listed, reverse=True)
    assert set(ids.values()) <= set(listed)

    def only(query):
        return set(shown_ids(client.get(f"/audit/?{query}").get_data(as_text=True)))

    assert only("actor=super_li") == {ids["score"], ids["late"], ids["formula"]}
    assert only("actor=WANG") == {ids["old"], ids["review"]}  # part of a name, any case
    assert only("action=milestone.update") == {ids["old"], ids["late"], ids["formula"]}
    assert only("object_type=score_cards") == {ids["score"]}
    assert only("object_type=milestones&object_id=8") == {ids["late"]}
    assert only("date_from=2024-05-06&date_to=2024-05-06") == {ids["review"], ids["score"]}
    assert only("date_from=2024-05-07&date_to=2024-05-07") == {ids["late"], ids["formula"]}
    later = only("date_from=2024-05-07")  # also the sign-ins of today
    assert {ids["late"], ids["formula"]} <= later
    assert not later & {ids["old"], ids["review"], ids["score"]}
    assert only("date_to=2024-05-04") == {ids["old"]}
    assert only("actor=office_wang&action=milestone.update") == {ids["old"]}


def test_bad_filter_values_are_ignored_with_a_message(client, login, make_user, events):
    login(make_user("office"))
    response = client.get("/audit/?object_id=abc&date_from=2024-13-45")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "已忽略无效的筛选条件：对象编号" in page and "起始日期" in page
    assert set(e.id for e in events.values()) <= set(shown_ids(page))


def test_before_and_after_shown_as_a_diff(client, login, make_user, events):
    login(make_user("office"))
    page = client.get(f"/audit/?object_id=7").get_data(as_text=True)
    assert "<del class=\"text-danger\">2024-03-31</del>" in page
    assert "2024-04-30</ins>" in page
    assert "延期" in page
    # An unchanged field is shown plainly, not struck through.
    assert "<del class=\"text-danger\">一季度</del>" not in page and "一季度" in page
    # An event with only an "after" lists its fields compactly.
    page = client.get("/audit/?object_type=status_updates").get_data(as_text=True)
    assert "<code>state</code>=<span class=\"text-break\">accepted</span>" in page


def test_filter_lists_offer_recorded_actions_and_types(client, login, make_user, events):
    login(make_user("office"))
    page = client.get("/audit/").get_data(as_text=True)
    for value in ("milestone.update", "score.adjust", "update.accept", "score_cards",
                  "status_updates"):
        assert f'<option value="{value}"' in page


def test_paging_keeps_the_filters(client, login, make_user, record_event):
    actor = make_user("office", username="pager_user")
    for i in range(60):
        record_event(actor, "milestone.update", object_id=i)
    login(make_user("office"))
    first = client.get("/audit/?action=milestone.update").get_data(as_text=True)
    assert len(shown_ids(first)) == 50
    assert "action=milestone.update" in first and "page=2" in first
    second = client.get("/audit/?action=milestone.update&page=2").get_data(as_text=True)
    assert len(shown_ids(second)) == 10
    assert max(shown_ids(second)) < min(shown_ids(first))


def read_export(response):
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(BytesIO(response.data))
    sheet = workbook.worksheets[0]
    # Below the title and the as-of line: the header, then the events.
    return sheet.title, [list(row) for row in sheet.iter_rows(min_row=3, values_only=True)]


def test_export_uses_the_same_filters(client, login, make_user, events):
    login(make_user("office"))
    title, rows = read_export(client.get("/audit/export.xlsx?actor=super_li"))
    assert title == "审计日志"
    assert rows[0][:4] == ["序号", "时间", "操作人", "操作"]
    body = rows[1:]
    assert [r[0] for r in body] == [events["formula"].id, events["late"].id, events["score"].id]
    score = next(r for r in body if r[0] == events["score"].id)
    assert score[2] == "super_li" and score[3] == "score.adjust" and score[4] == "score_cards"
    assert score[5] == 3 and score[6] == "加分：材料补齐"
    assert score[7] == '{"total": 88}' and score[8] == '{"total": 90}'
    assert score[1] == datetime(2024, 5, 6, 10, 0)  # local time
    # Text that looks like a formula stays text.
    formula = next(r for r in body if r[0] == events["formula"].id)
    assert formula[6] == "=1+1" and formula[8].startswith('{"title": "=HYPERLINK')
    _, rows = read_export(client.get("/audit/export.xlsx?date_from=2024-05-06&date_to=2024-05-06"))
    assert {r[0] for r in rows[1:]} == {events["review"].id, events["score"].id}


def test_export_file_name_and_link(client, login, make_user, events):
    login(make_user("office"))
    page = client.get("/audit/?action=score.adjust").get_data(as_text=True)
    assert 'href="/audit/export.xlsx?action=score.adjust"' in page
    response = client.get("/audit/export.xlsx?action=score.adjust")
    disposition = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("''", 1)[1]).startswith("审计日志-")


def test_export_of_many_events_streams_every_row(client, login, make_user, record_event):
    actor = make_user("office", username="bulk_user")
    for i in range(2500):
        # Bulk-write through the real recorder without one commit per event.
        from taskflow.core import audit

        audit.record(actor, "bulk.write", object_type="milestones", object_id=i)
    from taskflow.extensions import db

    db.session.commit()
    login(make_user("office"))
    _, rows = read_export(client.get("/audit/export.xlsx?action=bulk.write"))
    assert len(rows) == 2501
    assert rows[1][5] == 2499 and rows[-1][5] == 0


def test_audit_list_query_count_is_constant(client, login, make_user, record_event,
                                            count_queries):
    actor = make_user("office", username="counter")
    login(make_user("office"))

    def add(n, start):
        for i in range(start, start + n):
            record_event(actor, f"action.kind{i % 7}", object_type=f"type{i % 5}", object_id=i,
                         before={"n": i}, after={"n": i + 1})

    add(3, 0)
    with count_queries() as small:
        assert client.get("/audit/").status_code == 200
    add(27, 3)
    with count_queries() as large:
        page = client.get("/audit/").get_data(as_text=True)
    assert len(shown_ids(page)) >= 30
    assert small.count == large.count


@needs_office
def test_the_audit_export_prints_one_landscape_page_wide(client, login, make_user, events,
                                                        tmp_path):
    login(make_user("office"))
    pdf = to_pdf(tmp_path, "audit.xlsx", client.get("/audit/export.xlsx").data)
    info = pdf_info(pdf)
    assert (round(info["width"]), round(info["height"])) == (842, 595)
    pages = page_texts(pdf)
    assert info["pages"] == len(pages) == 1  # five events and a sign-in: one page
    for expected in ("审计日志", "数据截至", "序号", "操作人", "super_li", "加分：材料补齐"):
        assert expected in pages[0], expected
