"""The exports read back as printed: every export's title rows and page set-up, the dispatch
export's 逾期 column, and register exports too large for a request (background jobs)."""

import io
import re
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.enterprises import exports, jobs, operations, queries
from taskflow.enterprises.models import DispatchConfirmation, ExportJob
from taskflow.extensions import db


def sheet_of(response, index=0):
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(io.BytesIO(response.data)).worksheets[index]


def assert_print_ready(sheet, title_start: str):
    """The properties every export shares (core.spreadsheets.write_report)."""
    last = sheet.max_column
    assert sheet["A1"].value.startswith(title_start) and sheet["A1"].font.b
    assert f"A1:{get_column_letter(last)}1" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet["A2"].value.startswith("数据截至 ") and " · 制表单位 " in sheet["A2"].value
    assert sheet.freeze_panes == "A4" and sheet.print_title_rows == "$3:$3"
    assert sheet.page_setup.orientation == "landscape" and str(sheet.page_setup.paperSize) == "9"
    assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage


def test_dispatch_export_fills_late_from_the_measure(client, login, make_user, district,
                                                     make_enterprise, freeze):
    freeze("2024-04-03T09:00")
    on_time, late, silent = (district.unit(n) for n in ("古南街道", "文龙街道", "铝产业链专班"))
    make_enterprise(on_time, tech_in_library_on=date(2024, 2, 1))
    office = make_user("office")
    period = operations.open_month("2024-03", office)
    db.session.commit()
    assert period.due_on == date(2024, 4, 8)
    operations.confirm_figures(period, on_time, "", make_user("reporter", unit=on_time))
    db.session.commit()
    freeze("2024-04-10T09:00")  # after the due day: one unit confirms late, the others never
    operations.confirm_figures(period, late, "迟报", make_user("reporter", unit=late))
    db.session.commit()
    login(office)
    sheet = sheet_of(client.get(f"/dispatch/{period.id}/export.xlsx"))
    assert_print_ready(sheet, "月调度表 2024-03")
    header = [c.value for c in sheet[3]]
    late_col = header.index("逾期")
    rows = {r[0]: r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0]}
    # Every unit's 逾期 cell is filled, and says what the measure says as of today.
    board = queries.board(period)
    for row in board.rows:
        expected = queries.confirmation_late(period, board.confirmation(row.unit.id),
                                             date(2024, 4, 10))
        assert rows[row.unit.name][late_col] == ("是" if expected else "否"), row.unit.name
    assert rows["古南街道"][late_col] == "否"
    assert rows["文龙街道"][late_col] == "是" and rows[silent.name][late_col] == "是"
    # The board and the unit's page say the same before the nightly job has marked anyone.
    page = client.get(f"/dispatch/{period.id}").get_data(as_text=True)
    for unit, shown in ((on_time, None), (late, "逾期确认"), (silent, "逾期未确认")):
        cell = re.search(rf'<tr data-unit="{unit.id}">(.*?)</tr>', page, re.S).group(1)
        assert ("逾期" in cell) == (shown is not None) and (shown is None or shown in cell)
    unit_page = client.get(f"/dispatch/{period.id}/units/{silent.id}").get_data(as_text=True)
    assert "已逾期：数据应于 2024-04-08 前确认" in unit_page
    # Figures are numbers, the confirmation time a date, the totals row bold.
    assert isinstance(rows["古南街道"][1], int)
    assert isinstance(rows["古南街道"][header.index("确认时间")], datetime)
    total_row = next(r for r in sheet.iter_rows(min_row=4) if r[0].value == "全区合计")
    assert all(c.font.b for c in total_row)
    assert rows["逾期情况截至 2024-04-10（确认截止日 2024-04-08）。"]


def test_the_late_measure(district, make_user, freeze):
    unit = district.unit("古南街道")
    freeze("2024-04-02T09:00")
    period = operations.open_month("2024-03", make_user("office"))
    db.session.commit()
    due = period.due_on
    assert not queries.confirmation_late(period, None, due)
    assert queries.confirmation_late(period, None, due + timedelta(days=1))
    row = DispatchConfirmation(period_id=period.id, unit_id=unit.id, late=True)
    row.confirmed_at = datetime(2024, 4, 9, 2, 0)
    assert queries.confirmation_late(period, row, due + timedelta(days=5))  # the mark stays
    row.late = False
    assert not queries.confirmation_late(period, row, due + timedelta(days=5))


def test_register_innovation_and_audit_exports_are_print_ready(
        client, login, make_user, district, make_enterprise, freeze):
    freeze("2024-04-03T09:00")
    unit = district.unit("古南街道")
    make_enterprise(unit, name="重庆电子信息新能源汽车产业发展集团有限公司綦江分公司",
                    tech_in_library_on=date(2024, 2, 1), high_tech_cert_on=date(2023, 5, 6))
    make_enterprise(unit, name="甲铝业", tech_in_library_on=date(2021, 1, 1))
    login(make_user("office"))
    sheet = sheet_of(client.get("/enterprises/export.xlsx"))
    assert_print_ready(sheet, "企业库（2024-04-03）")
    rows = list(sheet.iter_rows(min_row=4))
    names = [r[0].value for r in rows]
    assert names == ["甲铝业", "重庆电子信息新能源汽车产业发展集团有限公司綦江分公司", "合计 2 家"]
    assert rows[0][4].value == datetime(2021, 1, 1) and rows[0][4].is_date
    assert rows[1][0].alignment.wrap_text and not rows[0][0].alignment.wrap_text
    assert rows[-1][0].font.b
    assert (sheet.column_dimensions["A"].width > sheet.column_dimensions["B"].width)
    operations.open_month("2024-03", make_user("office"))
    db.session.commit()
    assert_print_ready(sheet_of(client.get("/scores/periods/2024-03/innovation-report.xlsx")),
                       "创新报表")
    assert_print_ready(sheet_of(client.get("/audit/export.xlsx")), "审计日志")


# ---------------------------------------------------------------- background exports


@pytest.fixture
def big_register(app, district, make_enterprise):
    """Three enterprises and a threshold of two rows: the register export runs in the
    background."""
    app.config["EXPORT_BACKGROUND_ROWS"] = 2
    unit = district.unit("古南街道")
    for name in ("甲公司", "乙公司", "丙公司"):
        make_enterprise(unit, name=name, tech_in_library_on=date(2023, 1, 1))
    return unit


def test_a_large_export_runs_in_the_background_for_its_requester_only(
        client, login, make_user, big_register, app, freeze):
    freeze("2024-04-03T09:00")
    office, other = make_user("office"), make_user("office")
    login(office)
    offer = client.get("/enterprises/export.xlsx?q=公司")
    page = offer.get_data(as_text=True)
    assert offer.status_code == 200 and offer.mimetype == "text/html"
    assert "3 家" in page and 'action="/enterprises/exports"' in page
    # No job without the form's CSRF token; a GET creates nothing.
    assert client.post("/enterprises/exports", data={"q": "公司"}, csrf=False).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0
    response = client.post("/enterprises/exports", data={"q": "公司"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/enterprises/exports")
    job = db.session.scalar(select(ExportJob))
    assert job.state == "queued" and job.rows_total == 3 and job.params["q"] == "公司"
    assert job.requested_by_id == office.id
    listing = client.get("/enterprises/exports").get_data(as_text=True)
    assert "排队中" in listing and "enterprises/exports.js" in listing
    status = client.get("/enterprises/exports/status.json").get_json()
    assert status["jobs"] == [{"id": job.id, "state": "queued", "percent": 0, "rows_done": 0,
                               "rows_total": 3}]
    assert client.get(f"/enterprises/exports/{job.id}/download").status_code == 404  # not ready

    assert jobs.run_export_jobs() == {"done": 1, "failed": 0}
    assert jobs.run_export_jobs() == {"done": 0, "failed": 0}  # nothing twice
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.state == "done" and job.rows_done == 3 and job.percent == 100
    assert job.expires_at - job.finished_at == timedelta(days=app.config["EXPORT_KEEP_DAYS"])
    actions = set(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "export_jobs")))
    assert actions == {"export.request", "export.start", "export.done"}
    listing = client.get("/enterprises/exports").get_data(as_text=True)
    assert f"/enterprises/exports/{job.id}/download" in listing
    download = client.get(f"/enterprises/exports/{job.id}/download")
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    sheet = sheet_of(download)
    assert_print_ready(sheet, "企业库（2024-04-03）")
    assert [r[0] for r in sheet.iter_rows(min_row=4, values_only=True)] == [
        "丙公司", "乙公司", "甲公司", "合计 3 家"]

    # Someone else neither sees the job nor downloads its file.
    client.post("/logout")
    login(other)
    assert client.get(f"/enterprises/exports/{job.id}/download").status_code == 404
    assert client.get("/enterprises/exports/status.json").get_json() == {"jobs": []}
    assert "甲" not in client.get("/enterprises/exports").get_data(as_text=True)
    assert client.get("/enterprises/exports/999/download").status_code == 404


def test_a_unit_users_background_export_holds_its_own_unit_only(
        client, login, make_user, big_register, district, make_enterprise):
    make_enterprise(district.unit("文龙街道"), name="他单位公司")
    reporter = make_user("reporter", unit=big_register)
    login(reporter)
    # The posted unit is ignored: a unit user's export is its own unit's.
    client.post("/enterprises/exports", data={"unit": district.unit("文龙街道").id})
    jobs.run_export_jobs()
    job = db.session.scalar(select(ExportJob))
    sheet = sheet_of(client.get(f"/enterprises/exports/{job.id}/download"))
    names = [r[0] for r in sheet.iter_rows(min_row=4, values_only=True)]
    assert "他单位公司" not in names and names[-1] == "合计 3 家"


def test_expired_exports_are_swept_and_no_longer_download(
        client, login, make_user, big_register, app, freeze):
    freeze("2024-04-03T09:00")
    office = make_user("office")
    login(office)
    client.post("/enterprises/exports", data={})
    jobs.run_export_jobs()
    job = db.session.scalar(select(ExportJob))
    path = exports.export_dir() / job.storage_name
    assert path.is_file()
    orphan = exports.export_dir() / "left-over.part"
    orphan.write_bytes(b"x")
    assert jobs.sweep_exports() == {"expired": 0, "orphans": 0}  # kept for now
    freeze("2024-04-10T09:01")  # seven days later
    import os

    os.utime(orphan, (0, 0))
    assert jobs.sweep_exports() == {"expired": 1, "orphans": 1}
    assert jobs.sweep_exports() == {"expired": 0, "orphans": 0}
    assert not path.exists() and not orphan.exists()
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).storage_name == ""
    login(office)  # a week later: a new session
    assert client.get(f"/enterprises/exports/{job.id}/download").status_code == 404
    assert "已删除" in client.get("/enterprises/exports").get_data(as_text=True)


def test_a_failing_export_is_marked_failed_and_the_next_still_runs(
        client, login, make_user, big_register, monkeypatch):
    login(make_user("office"))
    client.post("/enterprises/exports", data={})
    client.post("/enterprises/exports", data={"q": "甲"})
    calls = []
    real = exports.write_register

    def broken_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(exports, "write_register", broken_once)
    assert jobs.run_export_jobs() == {"done": 1, "failed": 1}
    states = dict(db.session.execute(select(ExportJob.id, ExportJob.state)).all())
    assert sorted(states.values()) == ["done", "failed"]
    listing = client.get("/enterprises/exports").get_data(as_text=True)
    assert "导出失败" in listing
    assert list(exports.export_dir().glob("*.part")) == []


def test_my_exports_page_query_count_is_bounded(client, login, make_user, app, count_queries):
    user = make_user("office")
    params = exports.register_params({}, None, None, date(2024, 4, 3))
    for _ in range(3):
        operations.request_export(user, "register", params, 5, "x.xlsx")
    db.session.commit()
    login(user)
    with count_queries() as few:
        assert client.get("/enterprises/exports").status_code == 200
    for _ in range(20):
        operations.request_export(user, "register", params, 5, "x.xlsx")
    db.session.commit()
    with count_queries() as many:
        assert client.get("/enterprises/exports").status_code == 200
    assert many.count == few.count <= 8


def test_the_background_offer_page_query_count_is_bounded(client, login, make_user,
                                                         big_register, make_enterprise,
                                                         count_queries):
    login(make_user("office"))
    with count_queries() as few:
        assert "生成导出文件" in client.get("/enterprises/export.xlsx").get_data(as_text=True)
    for i in range(20):
        make_enterprise(big_register, name=f"丁公司{i}")
    with count_queries() as many:
        assert "生成导出文件" in client.get("/enterprises/export.xlsx").get_data(as_text=True)
    assert many.count == few.count <= 8
