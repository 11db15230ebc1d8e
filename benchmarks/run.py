"""`python -m benchmarks.run` (what `make bench` calls): the city-scale benchmark, end to end.

1. The city database (benchmarks/generate.py at --scale, default 1.0), generated once and cached
   under instance/bench/ (SQLite); with --postgres, generated into a throwaway PostgreSQL server
   (.ci/postgres.sh) instead.
2. The load test (benchmarks/load.py): the cockpit, the review queue, a unit workspace and two
   assignment pages under concurrent load, beside a bare Flask route served the same way.
3. `flask scores recompute --period 2024-03` timed (twice: first computation, then a recompute).
4. `flask reminders scan --now …` timed (the first scan of the generated history, then the next
   working day's).
Steps 2–4 run on a working copy of the cached SQLite city (deleted afterwards), so the cache
stays as generated and every run starts from the same state.
5. The city-scale register export (benchmarks/register_export.py, in its own process so its
   peak memory is its own): 200,000 enterprises through the background export job.
6. A table of the figures, checked against the targets of issues 7 and 15, and
   benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "instance" / "bench"
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
SECRET = secrets.token_hex(32)  # per run: a written key would be a published one
ROLLUP_PERIOD = "2024-03"
# Targets of issue 7 at city scale.
COCKPIT_MIN_RATIO = 0.25
COCKPIT_MAX_P95_MS = 150.0
ROLLUP_MAX_SECONDS = 10.0
# Targets of issue 15: the register export of the city (200,000 enterprises).
EXPORT_ROWS = 200_000
EXPORT_MAX_SECONDS = 60.0
EXPORT_MAX_RSS_MB = 300.0


def field_key() -> str:
    """The benchmark city's field key (production refuses to start without one): generated once
    into BENCH_DIR/field_key (mode 600) beside the cached city, whose encrypted fields it opens."""
    from taskflow.core.crypto import folder_key

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return folder_key(BENCH_DIR)


def bench_app(database_url: str):
    """TaskFlow's production settings over the benchmark database (plain HTTP, no TLS)."""
    from config import ProductionConfig
    from taskflow import create_app

    return create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY=SECRET,
                      FIELD_KEY=field_key(), SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False,
                      INSTANCE_DIR=BENCH_DIR / "instance", DATA_DIR=BENCH_DIR / "data")


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- 1. the database


def sqlite_path(scale: float, seed: int) -> Path:
    return BENCH_DIR / f"city-scale{scale:g}-seed{seed}.sqlite3"


def _generate_into(database_url: str, scale: float, seed: int) -> dict:
    from benchmarks.generate import generate
    from taskflow.extensions import db

    app = bench_app(database_url)
    with app.app_context():
        db.create_all()
        summary = generate(scale, seed)
        db.session.remove()
        db.engine.dispose()
    return {"scale": scale, "seed": seed, "seconds": round(summary.seconds, 1),
            "counts": summary.counts, "database": app.config["SQLALCHEMY_DATABASE_URI"].split("?")[0]}


def schema_version() -> str:
    """The migration head of this code: a cached city built for another schema is rebuilt."""
    from taskflow.core.health import migration_heads

    return ",".join(migration_heads(str(ROOT / "migrations")))


def ensure_sqlite_city(scale: float, seed: int, regenerate: bool) -> tuple[str, dict]:
    """The cached SQLite city (generated into a temporary file, renamed when complete)."""
    path = sqlite_path(scale, seed)
    meta_path = path.with_suffix(".json")
    schema = schema_version()
    stale = False
    if not regenerate and path.exists() and meta_path.exists():
        stale = json.loads(meta_path.read_text()).get("schema") != schema
        if stale:
            _log(f"the cached city was built for another schema; rebuilding it for {schema}")
    if regenerate or stale or not path.exists() or not meta_path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
        _log(f"generating the city at scale {scale:g} into {partial.name} (cached afterwards)")
        meta = _generate_into(f"sqlite:///{partial}", scale, seed)
        _checkpoint(partial)
        partial.replace(path)
        meta["database"] = f"sqlite:///{path}"
        meta["schema"] = schema
        meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        _log(f"generated in {meta['seconds']} s")
    else:
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        _log(f"using the cached city {path.name} (generated in {meta['seconds']} s)")
    return f"sqlite:///{path}", meta


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the database file, so the file alone is the whole database."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


class Postgres:
    """A throwaway PostgreSQL server (.ci/postgres.sh), stopped and deleted on exit."""

    def __init__(self):
        self.dir = Path(subprocess.run(["mktemp", "-d", "/tmp/taskflow-bench-pg.XXXXXX"],
                                       capture_output=True, text=True, check=True).stdout.strip())
        self.url = None

    def __enter__(self) -> str:
        done = subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), "start", str(self.dir)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()[-500:]}")
        self.url = done.stdout.strip().splitlines()[-1]
        return self.url

    def __exit__(self, *exc):
        subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), "stop", str(self.dir)],
                       capture_output=True, text=True)
        return False


# ---------------------------------------------------------------- 2. the pages


def pick_pages(database_url: str):
    """The pages to load and who signs in for each (the busiest Qijiang unit and assignments)."""
    from sqlalchemy import func, select

    from benchmarks.load import Page
    from taskflow.assignments.models import Assignment, Milestone, StatusUpdate
    from taskflow.extensions import db
    from taskflow.plans.models import KeyTask
    from taskflow.plans.queries import district_plan
    from taskflow.units.models import Unit

    app = bench_app(database_url)
    with app.app_context():
        plan = district_plan()
        unit_id = db.session.scalar(
            select(Assignment.unit_id).join(Unit, Unit.id == Assignment.unit_id)
            .where(Unit.plan_id == plan.id).group_by(Assignment.unit_id)
            .order_by(func.count(Assignment.id).desc(), Assignment.unit_id).limit(1))

        def busiest(*where):
            return db.session.execute(
                select(Assignment.id, Assignment.unit_id, func.count(StatusUpdate.id))
                .join(KeyTask, KeyTask.id == Assignment.task_id)
                .join(Milestone, Milestone.assignment_id == Assignment.id)
                .join(StatusUpdate, StatusUpdate.milestone_id == Milestone.id)
                .where(KeyTask.plan_id == plan.id, *where).group_by(Assignment.id, Assignment.unit_id)
                .order_by(func.count(StatusUpdate.id).desc(), Assignment.id).limit(1)).one()

        own = busiest(Assignment.role == "responsible")
        lead = busiest(Assignment.role == "lead")
        facts = {"workspace_unit": db.session.get(Unit, unit_id).name,
                 "assignment": {"id": own[0], "updates": own[2],
                                "unit": db.session.get(Unit, own[1]).name},
                 "lead_assignment": {"id": lead[0], "updates": lead[2],
                                     "unit": db.session.get(Unit, lead[1]).name}}
        db.session.remove()
        db.engine.dispose()
    pages = [
        Page("bare route", "/", None, "bare"),
        Page("cockpit", "/cockpit", "bench-leader"),
        Page("review queue", "/review", "bench-office"),
        Page("unit workspace", "/my", f"bench-r{unit_id}"),
        Page("assignment page", f"/assignments/{own[0]}", f"bench-r{own[1]}"),
        Page("assignment page (lead)", f"/assignments/{lead[0]}", f"bench-r{lead[1]}"),
    ]
    return pages, facts


# ---------------------------------------------------------------- 3 and 4. the commands


def timed_flask(args: list[str], database_url: str) -> dict:
    """Run `flask …` against the database; its wall time, exit code and last output line."""
    from benchmarks.load import server_env

    env = server_env(database_url, BENCH_DIR)
    env["FLASK_APP"] = "taskflow:create_app"
    flask = Path(sys.executable).with_name("flask")
    started = time.perf_counter()
    done = subprocess.run([str(flask), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = [line for line in (done.stdout + done.stderr).splitlines()
             if line.strip() and " INFO " not in line]
    return {"command": "flask " + " ".join(args), "seconds": round(seconds, 2),
            "exit_code": done.returncode, "output": lines[-1][:300] if lines else ""}


def startup_seconds(database_url: str) -> float:
    """What a `flask` command costs before it does anything (imports, app factory)."""
    return timed_flask(["--help"], database_url)["seconds"]


def rollup(database_url: str) -> list[dict]:
    runs = []
    for attempt in ("first", "again"):
        result = timed_flask(["scores", "recompute", "--period", ROLLUP_PERIOD], database_url)
        result["run"] = attempt
        runs.append(result)
        _log(f"roll-up {ROLLUP_PERIOD} ({attempt}): {result['seconds']} s, exit {result['exit_code']}")
    return runs


def deadline_scan(database_url: str) -> list[dict]:
    """The first scan of the generated history, then the next working day's."""
    from benchmarks.generate import DATA_AS_OF

    runs = []
    day = DATA_AS_OF
    for attempt in ("first scan of the history", "next working day"):
        result = timed_flask(["reminders", "scan", "--now", f"{day.isoformat()}T09:00"],
                             database_url)
        result["run"] = attempt
        runs.append(result)
        _log(f"deadline scan ({attempt}): {result['seconds']} s, exit {result['exit_code']}")
        day = day.fromordinal(day.toordinal() + 1)
    return runs


def working_copy(cached: Path) -> Path:
    """A copy of the cached city to run on (sign-ins, scores and scans write to it), so every
    run starts from the generated state."""
    copy = BENCH_DIR / "work.sqlite3"
    _remove_sqlite(copy)
    _checkpoint(cached)
    shutil.copyfile(cached, copy)
    return copy


def _remove_sqlite(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


# ---------------------------------------------------------------- 5. the report


def register_export(rows: int = EXPORT_ROWS) -> dict:
    """benchmarks/register_export.py in a fresh process: its figures as a dict."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.register_export", "--rows", str(rows),
                           "--json"], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"rows": 0, "state": "error", "seconds": None, "peak_rss_mb": None,
                "exit_code": done.returncode, "error": done.stderr[-2000:]}
    result = json.loads(lines[-1])
    result["exit_code"] = done.returncode
    return result


def verdicts(load: list[dict], rollup_runs: list[dict], startup: float,
             export: dict | None = None) -> dict:
    out = {}
    if export:
        out[f"register export of {EXPORT_ROWS:,} enterprises < {EXPORT_MAX_SECONDS:g} s"] = (
            export.get("state") == "done" and export["seconds"] < EXPORT_MAX_SECONDS)
        out[f"register export peak RSS < {EXPORT_MAX_RSS_MB:g} MB"] = (
            export.get("peak_rss_mb") is not None
            and export["peak_rss_mb"] < EXPORT_MAX_RSS_MB)
    cockpit = next((r for r in load if r["name"] == "cockpit"), None)
    if cockpit:
        # A page that answered anything but 200 was not measured: its figures meet nothing.
        served = cockpit["errors"] == 0
        out["cockpit ≥ 25 % of the bare route's throughput"] = served and (
            cockpit["ratio_to_bare"] is not None and cockpit["ratio_to_bare"] >= COCKPIT_MIN_RATIO)
        out["cockpit p95 < 150 ms"] = served and cockpit["p95_ms"] < COCKPIT_MAX_P95_MS
    out["every page answered 200 under load"] = all(r["errors"] == 0 for r in load)
    first = rollup_runs[0] if rollup_runs else None
    if first:
        out["roll-up of one month < 10 s (command)"] = (first["exit_code"] == 0
                                                        and first["seconds"] < ROLLUP_MAX_SECONDS)
        out["roll-up of one month < 10 s (less command start-up)"] = (
            first["exit_code"] == 0 and first["seconds"] - startup < ROLLUP_MAX_SECONDS)
    return out


def print_report(report: dict) -> None:
    gen = report["generation"]
    print()
    print(f"TaskFlow benchmark — scale {gen['scale']:g} (seed {gen['seed']}), "
          f"database {report['database']}, {report['workers']} gunicorn workers, "
          f"{report['clients']} concurrent clients, {report['cpu_count']} CPUs")
    print("machine load average (1/5/15 min): " + "; ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in report["load_average"].items()))
    print(f"generation: {gen['seconds']} s{' (cached)' if gen.get('cached') else ''}; rows: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(gen["counts"].items())))
    print()
    print(f"{'page':28} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'bare req/s':>11} "
          f"{'vs bare':>8} {'errors':>7}")
    for row in report["load"]:
        ratio = f"{row['ratio_to_bare'] * 100:.1f} %" if row["ratio_to_bare"] is not None else "-"
        beside = row.get("bare_throughput")
        beside = f"{beside:.1f}" if beside is not None else "-"
        print(f"{row['name']:28} {row['throughput']:9.1f} {row['p50_ms']:9.1f} {row['p95_ms']:9.1f} "
              f"{row['max_ms']:9.1f} {beside:>11} {ratio:>8} {row['errors']:7d}")
    print("(bare req/s: the bare route in the windows alternating with that page's; "
          "vs bare: the page's throughput over it)")
    print()
    print(f"flask command start-up (imports + app factory): {report['flask_startup_seconds']} s")
    for row in report["rollup"] + report["scan"]:
        print(f"{row['command']:55} {row['run']:26} {row['seconds']:8.2f} s  exit {row['exit_code']}"
              f"  {row['output'][:80]}")
    export = report.get("register_export")
    if export:
        if export.get("seconds") is not None:
            print(f"register export, {export['rows']:,} enterprises (background job): "
                  f"{export['seconds']} s, peak RSS {export['peak_rss_mb']} MB, "
                  f"file {export.get('file_mb')} MB")
        else:
            print(f"register export failed: {export.get('error', '')[-300:]}")
    print()
    for name, ok in report["targets"].items():
        print(f"{'MET   ' if ok else 'MISSED'} {name}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="TaskFlow city-scale benchmark")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", 1.0)))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", action="store_true",
                        help="generate into a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached database")
    parser.add_argument("--workers", type=int, default=max(2, 2 * (os.cpu_count() or 1)))
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=15.0, help="time budget per page")
    parser.add_argument("--max-requests", type=int, default=5000, help="request budget per page")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from benchmarks.generate import BENCH_PASSWORD
    from benchmarks.load import run_load

    started = time.perf_counter()
    postgres = Postgres() if args.postgres else None
    sqlite_file = None
    try:
        if postgres:
            url = postgres.__enter__()
            _log(f"generating the city at scale {args.scale:g} into PostgreSQL")
            meta = _generate_into(url, args.scale, args.seed)
            _log(f"generated in {meta['seconds']} s")
        else:
            cached_url, meta = ensure_sqlite_city(args.scale, args.seed, args.regenerate)
            sqlite_file = working_copy(Path(cached_url.removeprefix("sqlite:///")))
            url = f"sqlite:///{sqlite_file}"
        pages, facts = pick_pages(url)
        load = []
        load_average = {"before_load_test": os.getloadavg()}
        if not args.skip_load:
            _log(f"load test: {len(pages)} pages × {args.seconds:g} s, {args.clients} clients, "
                 f"{args.workers} workers each server")
            results = run_load(url, pages, workers=args.workers, clients=args.clients,
                               seconds=args.seconds, max_requests=args.max_requests,
                               password=BENCH_PASSWORD, log_dir=BENCH_DIR / "logs")
            load = [r.__dict__ for r in results]
            load_average["after_load_test"] = os.getloadavg()
        startup = startup_seconds(url)
        rollup_runs = rollup(url)
        scan_runs = deadline_scan(url)
        _log(f"register export of {EXPORT_ROWS:,} enterprises")
        export = register_export()
    finally:
        if postgres:
            postgres.__exit__(None, None, None)
        elif sqlite_file is not None:
            _remove_sqlite(sqlite_file)

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "database": "postgresql" if args.postgres else "sqlite",
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
        # Other work on the machine skews every figure: the 1/5/15-minute load averages.
        "load_average": {k: [round(x, 2) for x in v] for k, v in load_average.items()},
        "workers": args.workers, "clients": args.clients, "seconds_per_page": args.seconds,
        "generation": meta, "pages": facts, "load": load,
        "flask_startup_seconds": startup, "rollup": rollup_runs, "scan": scan_runs,
        "register_export": export,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    report["targets"] = (verdicts(load, rollup_runs, startup, export) if args.scale >= 1.0
                         else {})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_report(report)
    print(f"\nfigures written to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
          f" ({report['total_seconds']} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
