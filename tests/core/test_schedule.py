"""Scheduled work is declared by each area (the SCHEDULE of taskflow/<area>/jobs.py) and collected
by taskflow/scheduler.py: every public job is scheduled or deliberately run by hand only, ids are
unique, the timings are the ones operators rely on, and a broken area stops the scheduler."""

import importlib
import inspect
import sys
from datetime import datetime
from pathlib import Path

import pytest

import taskflow
from taskflow import AREAS, scheduler
from taskflow.core import clock

AREA_JOBS = [f"taskflow.{area}.jobs" for area in AREAS
             if (Path(taskflow.__file__).parent / area / "jobs.py").exists()]


def _public_functions(module_name: str) -> dict[str, object]:
    """{qualified name: function} of the functions a jobs module defines and does not hide."""
    module = importlib.import_module(module_name)
    return {f"{module_name}.{name}": func for name, func in vars(module).items()
            if inspect.isfunction(func) and not name.startswith("_")
            and func.__module__ == module_name}


def test_every_public_job_is_scheduled_or_by_hand_only_with_a_reason():
    assert "taskflow.enterprises.jobs" in AREA_JOBS and "taskflow.notices.jobs" in AREA_JOBS
    scheduled = {job.func for job in scheduler.collect_schedule()}
    public = {name: func for module in AREA_JOBS
              for name, func in _public_functions(module).items()}
    orphans = [name for name, func in public.items()
               if func not in scheduled and name not in scheduler.BY_HAND_ONLY]
    assert orphans == [], "neither scheduled nor in scheduler.BY_HAND_ONLY"
    for name, reason in scheduler.BY_HAND_ONLY.items():
        assert name in public, f"{name} is not a public function of a jobs.py"
        assert public[name] not in scheduled, f"{name} is scheduled and listed as by hand only"
        assert reason.strip(), f"{name}: say why it is run by hand only"


def test_every_scheduled_job_belongs_to_its_area_and_runs_without_arguments():
    for job in scheduler.collect_schedule():
        module = sys.modules[job.func.__module__]
        assert job in module.SCHEDULE, job.id
        required = [p for p in inspect.signature(job.func).parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert required == [], f"{job.id} needs arguments the scheduler does not give"


def test_job_ids_are_unique(monkeypatch):
    ids = [job.id for job in scheduler.collect_schedule()]
    assert len(ids) == len(set(ids))
    notices = importlib.import_module("taskflow.notices.jobs")
    monkeypatch.setattr(notices, "SCHEDULE", notices.SCHEDULE + notices.SCHEDULE[:1])
    with pytest.raises(ValueError, match="deadline_scan"):
        scheduler.collect_schedule()


# Each job and the next time it fires after Tuesday 2024-10-08 07:02:30 in Shanghai (the times of
# the hard-coded table this declaration replaced).
AFTER = datetime(2024, 10, 8, 7, 2, 30, tzinfo=clock.LOCAL_TZ)
EXPECTED = {
    "deadline_scan": ("taskflow.notices.jobs", "scan_deadlines", "2024-10-08 08:30"),
    "update_requests": ("taskflow.notices.jobs", "request_updates", "2024-10-08 09:00"),
    "outbox_delivery": ("taskflow.notices.jobs", "deliver_outbox", "2024-10-08 07:03"),
    "daily_digest": ("taskflow.notices.jobs", "send_digests", "2024-10-08 17:30"),
    "evidence_interrupted_sweep": ("taskflow.assignments.jobs", "sweep_interrupted_uploads",
                                   "2024-10-08 07:05"),
    "evidence_orphan_sweep": ("taskflow.assignments.jobs", "sweep_orphaned_evidence",
                              "2024-10-09 03:15"),
    "scores_recompute": ("taskflow.scores.jobs", "nightly_recompute", "2024-10-09 01:30"),
    "audit_anchor": ("taskflow.audit.jobs", "anchor_chain_head", None),  # hourly from start
    "security_log_prune": ("taskflow.audit.jobs", "prune_security_logs", "2024-10-09 03:40"),
    "monthly_dispatch": ("taskflow.enterprises.jobs", "run_monthly_dispatch",
                         "2024-10-08 08:00"),
    "import_temp_sweep": ("taskflow.enterprises.jobs", "sweep_import_files", "2024-10-08 07:41"),
    "export_jobs": ("taskflow.enterprises.jobs", "run_export_jobs", None),  # every minute
    "export_sweep": ("taskflow.enterprises.jobs", "sweep_exports", "2024-10-08 07:47"),
    "import_preview_purge": ("taskflow.enterprises.jobs", "purge_stale_imports",
                             "2024-10-09 03:50"),
}


def test_the_scheduler_runs_every_job_at_its_time_in_shanghai(app):
    table = {job_id: (func, trigger) for job_id, func, trigger in scheduler.job_table(app)}
    assert set(table) == set(EXPECTED)
    for job_id, (module, name, fires) in EXPECTED.items():
        func, trigger = table[job_id]
        assert func is getattr(importlib.import_module(module), name), job_id
        assert str(trigger.timezone) == "Asia/Shanghai", job_id
        if fires is not None:
            fire = trigger.get_next_fire_time(None, AFTER)
            assert f"{fire:%Y-%m-%d %H:%M}" == fires, job_id
    assert table["audit_anchor"][1].interval.total_seconds() == 3600
    assert table["export_jobs"][1].interval.total_seconds() == 60


def test_a_broken_area_stops_the_scheduler_instead_of_dropping_its_jobs(app, monkeypatch):
    """The monthly dispatch used to vanish from the schedule when its import failed."""
    monkeypatch.setitem(sys.modules, "taskflow.enterprises.jobs", None)  # import now fails
    with pytest.raises(ImportError):
        scheduler.build_scheduler(app)


def test_flask_dispatch_is_one_group_owned_by_the_monthly_dispatch(app):
    """Assembled by enterprises alone: `open` a month by hand, `run` the scheduled job by hand."""
    from taskflow.enterprises import dispatch_bp

    assert app.cli.commands["dispatch"] is dispatch_bp.cli
    assert set(dispatch_bp.cli.commands) == {"open", "run"}
