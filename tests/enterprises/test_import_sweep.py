"""Left-overs of imports (issue 12, A.9): temporary files a killed worker left under DATA_DIR's
imports/ and tmp/ are removed by the scheduler once old; a staged import never depends on them."""

import io
import os
import time

from sqlalchemy import func, select

from taskflow import scheduler
from taskflow.enterprises.models import Enterprise, EnterpriseImport, EnterpriseImportRow
from taskflow.extensions import db


def _left_over(path, hours_old):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 left by a killed worker")
    stamp = time.time() - hours_old * 3600
    os.utime(path, (stamp, stamp))
    return path


def _sweep_job(app):
    return {job_id: func for job_id, func, _trigger in scheduler.job_table(app)}[
        "import_temp_sweep"]


def test_the_scheduler_sweeps_old_import_temp_files_and_keeps_staged_imports(
        app, client, login, make_user, district, codes, make_xlsx, caplog):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    response = client.post("/enterprises/import", data={
        "unit_id": unit.id, "file": (io.BytesIO(make_xlsx([["重庆甲有限公司", codes(), "培育"]])),
                                     "名单.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 302
    token = response.headers["Location"].rsplit("/", 1)[1]
    data = app.config["DATA_DIR"]
    assert not list((data / "imports").iterdir())  # staging removed its copy already
    old_upload = _left_over(data / "imports" / "0123abcd.xlsx", hours_old=7)
    old_spill = _left_over(data / "tmp" / "tmpab12cd", hours_old=7)
    nested = _left_over(data / "tmp" / "nested" / "part", hours_old=30)
    in_flight = _left_over(data / "imports" / "fedc3210.xlsx", hours_old=1)
    evidence = _left_over(data / "evidence" / "ab" / "cd" / ("0" * 32), hours_old=30)

    scheduler.run_job(app, "import_temp_sweep", _sweep_job(app))

    assert not old_upload.exists() and not old_spill.exists() and not nested.exists()
    assert in_flight.exists()  # younger than IMPORT_TEMP_MAX_AGE_HOURS: perhaps being staged
    assert evidence.exists()  # not this sweep's business
    assert "swept 3 temporary import file(s)" in caplog.text
    # The staged import lives in the database: still previewed and confirmed after the sweep.
    assert "重庆甲有限公司" in client.get(f"/enterprises/import/{token}").get_data(as_text=True)
    client.post(f"/enterprises/import/{token}/confirm")
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 1
    assert db.session.scalar(select(EnterpriseImport.state)) == "confirmed"
    # A second run finds nothing more to do.
    caplog.clear()
    scheduler.run_job(app, "import_temp_sweep", _sweep_job(app))
    assert "'removed': 0" in caplog.text and in_flight.exists()


def test_the_age_is_a_setting(app):
    app.config["IMPORT_TEMP_MAX_AGE_HOURS"] = 0
    fresh = _left_over(app.config["DATA_DIR"] / "imports" / "fresh.xlsx", hours_old=0.01)
    scheduler.run_job(app, "import_temp_sweep", _sweep_job(app))
    assert not fresh.exists()
    assert db.session.scalar(select(func.count()).select_from(EnterpriseImportRow)) == 0


def _stage(client, unit, make_xlsx, codes, name) -> str:
    response = client.post("/enterprises/import", data={
        "unit_id": unit.id, "file": (io.BytesIO(make_xlsx([[name, codes(), "培育"]])),
                                     "名单.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 302
    return response.headers["Location"].rsplit("/", 1)[1]


def test_the_scheduler_discards_previews_nobody_confirmed_within_a_week(
        app, client, login, make_user, district, codes, make_xlsx, freeze):
    from taskflow.audit.models import AuditEvent

    unit = district.unit("古南街道")
    freeze("2024-04-01T10:00")
    login(make_user("reporter", unit=unit))
    stale = _stage(client, unit, make_xlsx, codes, "重庆甲有限公司")
    freeze("2024-04-08T10:00")
    login(make_user("reporter", unit=unit))
    fresh = _stage(client, unit, make_xlsx, codes, "重庆乙有限公司")
    job = {job_id: func for job_id, func, _trigger in scheduler.job_table(app)}[
        "import_preview_purge"]

    def purges():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "enterprise.import_purge"))

    freeze("2024-04-09T03:50")  # eight days after the first upload, one after the second
    scheduler.run_job(app, "import_preview_purge", job)
    states = dict(db.session.execute(select(EnterpriseImport.token, EnterpriseImport.state)).all())
    assert states == {stale: "discarded", fresh: "preview"}
    staged = db.session.scalars(select(EnterpriseImport.token).join(
        EnterpriseImportRow, EnterpriseImportRow.import_id == EnterpriseImport.id)).all()
    assert staged == [fresh]  # the stale preview's rows are gone, the fresh one's kept
    assert purges() == 1
    scheduler.run_job(app, "import_preview_purge", job)  # nothing more to do: nothing recorded
    assert purges() == 1
