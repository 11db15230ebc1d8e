"""Benchmark: the city-scale register export (200,000 enterprises) through the background job.

    python -m benchmarks.register_export [--rows 200000] [--json] [--keep]

Builds a throwaway SQLite database (bulk inserts: 30 units, `--rows` enterprises with CJK names,
certificates and dates), queues one register export of the whole register and runs the very
job the scheduler runs (taskflow.enterprises.jobs.run_export_jobs: a read of plain columns
streamed YIELD_PER rows at a time into openpyxl's write-only workbook, progress written to the
job's row). Prints the job's wall time, the Python heap peak (tracemalloc, optional: it slows
Python down) and the process's peak RSS (getrusage), against the targets of issue 15:
under 60 s and under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

TARGET_SECONDS = 60.0
TARGET_RSS_MB = 300.0
UNITS = 30
CHUNK = 10_000
WORDS = ("电子信息", "新能源汽车", "智能制造", "生物医药", "新材料", "铝合金", "食品加工",
         "现代农业", "节能环保", "软件", "精密机械", "化工", "文化旅游", "物流")


def generate(rows: int, seed: int = 15) -> None:
    """`rows` enterprises over UNITS units, inserted in chunks of CHUNK (core INSERTs)."""
    from sqlalchemy import insert

    from taskflow.enterprises.models import Enterprise
    from taskflow.extensions import db
    from taskflow.plans.models import Plan
    from taskflow.units.models import Unit

    rng = random.Random(seed)
    plan = Plan(code="bench", title="bench", level="district", start_year=2023, end_year=2027)
    db.session.add(plan)
    db.session.flush()
    units = [Unit(plan_id=plan.id, name=f"基准测试第{i + 1:02d}街道", kind="street",
                  peer_group="street_town") for i in range(UNITS)]
    db.session.add_all(units)
    db.session.flush()
    unit_ids = [u.id for u in units]
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    batch = []
    for i in range(rows):
        in_library = date(2019, 1, 1) + timedelta(days=rng.randrange(2500))
        certified = in_library + timedelta(days=rng.randrange(400)) if i % 6 == 0 else None
        name = (f"重庆{rng.choice(WORDS)}{rng.choice(WORDS)}"
                f"{'产业发展' if i % 3 == 0 else ''}有限公司{i:06d}")
        batch.append({
            "name": name, "credit_code": f"91500{i:013d}", "unit_id": rng.choice(unit_ids),
            "source": rng.choice(("stock", "cultivated", "attracted")),
            "tech_in_library_on": in_library,
            "tech_removed_on": in_library + timedelta(days=900) if i % 17 == 0 else None,
            "high_tech_cert_no": f"GR{certified.year}5110{i:06d}" if certified else None,
            "high_tech_cert_on": certified, "high_tech_first_on": certified,
            "high_tech_expires_on": certified.replace(year=certified.year + 3)
            if certified and not (certified.month == 2 and certified.day == 29) else None,
            "specialised_sme": i % 40 == 0, "status": "active", "created_at": now,
            "updated_at": now, "version_id": 1,
        })
        if len(batch) == CHUNK:
            db.session.execute(insert(Enterprise), batch)
            batch.clear()
    if batch:
        db.session.execute(insert(Enterprise), batch)
    db.session.commit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report the Python heap peak (slower)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    from config import TestingConfig
    from taskflow import create_app
    from taskflow.accounts.models import User
    from taskflow.enterprises import exports, jobs, operations
    from taskflow.enterprises.models import ExportJob
    from taskflow.extensions import db

    workdir = Path(tempfile.mkdtemp(prefix="taskflow-bench-export-"))
    try:
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{workdir / 'bench.db'}",
                         INSTANCE_DIR=workdir / "instance", DATA_DIR=workdir / "data",
                         EXPORT_BACKGROUND_ROWS=20_000)
        with app.app_context(), app.test_request_context():
            db.create_all()
            started = time.perf_counter()
            generate(args.rows)
            generated = time.perf_counter() - started
            print(f"generated {args.rows:,} enterprises in {generated:.1f} s", file=sys.stderr)
            user = User(username="bench", role="office", display_name="bench",
                        password_hash="!")  # never signs in
            db.session.add(user)
            db.session.flush()
            params = exports.register_params({}, None, None, date(2026, 12, 2))
            job = operations.request_export(user, "register", params,
                                            exports.register_count(params),
                                            exports.register_file_name(params))
            db.session.commit()
            job_id = job.id
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if args.tracemalloc:
                tracemalloc.start()
            started = time.perf_counter()
            counts = jobs.run_export_jobs()
            seconds = time.perf_counter() - started
            heap_peak = tracemalloc.get_traced_memory()[1] / 1048576 if args.tracemalloc else None
            if args.tracemalloc:
                tracemalloc.stop()
            rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            job = db.session.get(ExportJob, job_id)
            path = exports.export_dir() / job.storage_name
            result = {
                "rows": job.rows_done, "state": job.state, "counts": counts,
                "seconds": round(seconds, 1), "peak_rss_mb": round(rss_peak),
                "rss_before_export_mb": round(rss_before),
                "python_heap_peak_mb": round(heap_peak, 1) if heap_peak is not None else None,
                "file_mb": round(path.stat().st_size / 1048576, 1) if job.storage_name else None,
                "generation_seconds": round(generated, 1),
            }
            result["met"] = (job.state == "done" and job.rows_done == args.rows
                             and seconds < TARGET_SECONDS and rss_peak < TARGET_RSS_MB)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"register export of {result['rows']:,} rows ({result['state']}): "
                  f"{result['seconds']} s, peak RSS {result['peak_rss_mb']} MB "
                  f"(before the export {result['rss_before_export_mb']} MB), "
                  f"file {result['file_mb']} MB"
                  + (f", Python heap peak {result['python_heap_peak_mb']} MB"
                     if heap_peak is not None else ""))
            print(f"{'MET   ' if result['met'] else 'MISSED'} register export of "
                  f"{args.rows:,} rows < {TARGET_SECONDS:g} s and < {TARGET_RSS_MB:g} MB peak RSS")
        return 0 if result["met"] else 1
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
