"""Benchmark: import a 20,000-row Excel list through the same code path as the web and the CLI.

    python -m benchmarks.enterprise_import [--rows 20000] [--keep]

Builds a throwaway SQLite database and data directory, writes an .xlsx with the template's
columns, then stages it (check every row, preview table) and confirms it (one transaction),
printing wall time per phase, the Python heap peak (tracemalloc) and the process's max RSS.
"""

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path


def write_workbook(path: Path, rows: int, seed: int = 20000) -> None:
    """A write-only workbook (streamed, bounded memory) with `rows` valid enterprises."""
    from openpyxl import Workbook

    from taskflow.enterprises.creditcode import generate_unique
    from taskflow.enterprises.importer import COLUMNS

    rng = random.Random(seed)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([zh for _k, zh, _en, _r in COLUMNS])
    for i, code in enumerate(generate_unique(rows, seed=seed)):
        in_library = date(2019, 1, 1) + timedelta(days=rng.randrange(1800))
        certified = in_library + timedelta(days=rng.randrange(300)) if i % 8 == 0 else None
        source = rng.choice(("存量", "培育", "招引"))
        sheet.append([f"重庆基准测试企业{i:05d}有限公司", code, source,
                      in_library, f"GR{certified.year}5110{i:05d}" if certified else None,
                      certified, "是" if i % 40 == 0 else "否"])
    workbook.save(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--no-tracemalloc", action="store_true",
                        help="measure wall time without tracemalloc's overhead (RSS only)")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from config import TestingConfig
    from taskflow import create_app
    from taskflow.enterprises import importer
    from taskflow.extensions import db
    from taskflow.plans.models import Plan
    from taskflow.units.models import Unit

    workdir = Path(tempfile.mkdtemp(prefix="taskflow-bench-"))
    try:
        path = workdir / "enterprises.xlsx"
        started = time.perf_counter()
        write_workbook(path, args.rows)
        print(f"workbook: {args.rows} rows, {path.stat().st_size / 1048576:.1f} MB, "
              f"written in {time.perf_counter() - started:.1f} s")
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{workdir / 'bench.db'}",
                         INSTANCE_DIR=workdir / "instance", DATA_DIR=workdir / "data",
                         ENTERPRISE_IMPORT_MAX_ROWS=max(50_000, args.rows))
        with app.app_context(), app.test_request_context():
            db.create_all()
            plan = Plan(code="bench", title="bench", level="district", start_year=2023,
                        end_year=2027)
            db.session.add(plan)
            db.session.flush()
            unit = Unit(plan_id=plan.id, name="古南街道", kind="street", peer_group="street_town")
            db.session.add(unit)
            db.session.commit()

            trace = not args.no_tracemalloc
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            with tqdm(total=args.rows, unit="row", desc="check", file=sys.stderr) as bar:
                batch = importer.stage(path, path.name, unit, None, progress=bar.update)
            db.session.commit()
            staged = time.perf_counter() - started
            stage_peak = tracemalloc.get_traced_memory()[1] if trace else 0
            if trace:
                tracemalloc.reset_peak()
            started = time.perf_counter()
            with tqdm(total=args.rows, unit="row", desc="import", file=sys.stderr) as bar:
                counts = importer.confirm(batch, None, progress=bar.update)
            db.session.commit()
            confirmed = time.perf_counter() - started
            confirm_peak = tracemalloc.get_traced_memory()[1] if trace else 0
            if trace:
                tracemalloc.stop()
        maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"counts: {counts}")
        print(f"preview (check + stage): {staged:.1f} s, Python heap peak "
              f"{stage_peak / 1048576:.1f} MB")
        print(f"confirm (one transaction): {confirmed:.1f} s, Python heap peak "
              f"{confirm_peak / 1048576:.1f} MB")
        print(f"total {staged + confirmed:.1f} s; process max RSS {maxrss_kb / 1024:.0f} MB")
        return 0
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
