"""City-scale data for benchmarks: `generate(scale, seed=1)` fills the current app's database.

At scale 1.0 the database holds the whole city: the two real plans imported from seeds/ (the
Chongqing action plan and the Qijiang work plan), then the Qijiang plan's structure cloned for the
other 40 districts and zones of the city plan (each its own district plan whose units are named
"<district>·<unit>", e.g. "万州区·古南街道"), about 2,300 units with their reporters and unit heads,
20,000 assignments, 100,000 milestones, 1,000,000 status updates (each milestone's history of
returned reports ending in its current state), 200,000 enterprises, inbox notifications, two
months of monthly dispatch and one scored month. A smaller scale shrinks every figure (and the
number of cloned districts, at least one); scale 0.001 is a tiny version for tests.

Everything is derived from the seed and fixed dates (DATA_AS_OF), never from the wall clock, so the
same seed gives the same database. Rows are written with bulk `insert(Model)` executemany in
chunks, never object by object; only the few rows that belong to real workflows (the plan import,
the dispatch months, the score roll-up) go through the real operations.

    python -m benchmarks.generate --scale 0.01 --database-url sqlite:////tmp/bench.sqlite3
"""

from __future__ import annotations

import argparse
import calendar
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, text

from taskflow.core import clock
from taskflow.core.calendar import WorkCalendar
from taskflow.extensions import db
from taskflow.measures.milestones import lateness_working_days

# The day the generated history stops ("today" for the data); a Monday and a working day.
DATA_AS_OF = date(2026, 11, 16)
AS_OF_MOMENT = datetime.combine(DATA_AS_OF, dtime(8, 30), tzinfo=clock.LOCAL_TZ).astimezone(timezone.utc)
# Lateness of the generated closures, in working days (no admin overrides in a generated city).
WORK_CALENDAR = WorkCalendar()
PLAN_START = date(2023, 3, 1)
# The password of every generated account (the load driver signs in with it).
BENCH_PASSWORD = "bench-Qijiang-2023-2027"

# City scale (scale 1.0).
FULL = {
    "assignments": 20_000,
    "milestones": 100_000,
    "status_updates": 1_000_000,
    "enterprises": 200_000,
    "notifications": 50_000,
}
CLONED_DISTRICTS = 40  # the city plan's 41 districts and zones, less Qijiang (the real plan)
CHUNK = 5_000

PLAN_DOCUMENTS = ("chongqing-action-plan-2023-2027.txt", "qijiang-work-plan-2023-2027.txt")

# Shares of final milestone states, for milestones due before DATA_AS_OF and after it.
PAST_STATES = (("accepted", 0.82), ("submitted", 0.04), ("returned", 0.05), ("pending", 0.09))
FUTURE_STATES = (("accepted", 0.08), ("submitted", 0.06), ("returned", 0.03), ("pending", 0.83))
EXTENDED_SHARE = 0.03  # milestones whose due date an extension moved (original kept)

NARRATIVES = (
    "已召开专题推进会，完成阶段性工作，相关材料已整理归档。",
    "走访重点企业{n}家，梳理培育清单并建立工作台账。",
    "组织政策宣讲{n}场，指导企业开展研发费用归集。",
    "配合区科技局完成入库企业核查，推动企业申报科技型企业。",
    "对接高校院所开展产学研合作，新签合作协议{n}项。",
)
PROBLEMS = ("", "", "部分企业研发投入不足，申报积极性不高。", "专业服务机构力量薄弱。")
NEXT_STEPS = ("继续跟踪服务重点企业。", "下月完成申报材料审核。", "加强与牵头单位的沟通对接。")
RETURN_COMMENTS = ("请补充佐证材料。", "进展数据与台账不一致，请核实后重新报送。", "请说明存在问题及下一步措施。")
RETURN_REASONS = ("incomplete", "no_evidence", "figures_inconsistent", "false_reporting")
WORDS = ("恒", "鑫", "创", "盛", "瑞", "华", "泰", "宏", "博", "达", "晟", "源", "丰", "锐", "智",
         "联", "信", "通", "德", "坤", "启", "航", "卓", "远", "正", "明", "新", "嘉", "宇", "奥")
TRADES = ("机械制造", "铝业", "新材料", "电子科技", "食品", "信息技术", "化工", "建材",
          "汽车零部件", "装备", "生物科技", "智能科技", "环保科技", "能源科技", "数字科技")
FORMS = ("有限公司", "有限公司", "股份有限公司", "有限责任公司")


@dataclass
class Summary:
    """What generate() wrote and how long it took."""

    scale: float
    seed: int
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)


def _target(name: str, scale: float) -> int:
    return max(1, round(FULL[name] * scale))


def _utc(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, dtime(hour, minute), tzinfo=clock.LOCAL_TZ).astimezone(timezone.utc)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


MONTH_ENDS = tuple(_month_end(y, m) for y in range(2023, 2028) for m in range(1, 13)
                   if date(y, m, 1) >= PLAN_START)


class _Ids:
    """Explicit primary keys, so rows can reference each other before they are written."""

    def __init__(self):
        self._next: dict[str, int] = {}

    def take(self, model) -> int:
        table = model.__table__
        if table.name not in self._next:
            current = db.session.scalar(select(func.max(table.c.id))) or 0
            self._next[table.name] = current + 1
        value = self._next[table.name]
        self._next[table.name] = value + 1
        return value


class _Writer:
    """Buffers rows per model and writes them with executemany in chunks."""

    def __init__(self, bar):
        self.bar = bar
        self.buffers: dict[object, list[dict]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self.order: list[object] = []  # parents before children when flushing everything

    def add(self, target, row: dict) -> None:
        if target not in self.buffers:
            self.order.append(target)
        buffer = self.buffers[target]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush(target)

    def flush(self, target=None) -> None:
        targets = [target] if target is not None else list(self.order)
        for t in targets:
            rows = self.buffers.get(t)
            if not rows:
                continue
            if target is not None:
                # Rows reference rows of earlier tables: write those first.
                for earlier in self.order[: self.order.index(t)]:
                    self.flush(earlier)
            db.session.execute(insert(t), rows)
            name = getattr(t, "__tablename__", None) or t.name
            self.counts[name] += len(rows)
            if self.bar is not None:
                self.bar.update(len(rows))
            self.buffers[t] = []


def _progress(total: int, show: bool | None):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in requirements.txt
        return None
    return tqdm(total=total, unit="rows", unit_scale=True, desc="generate", disable=show is False
                if show is not None else None, mininterval=1.0)


def _pick(rng: random.Random, shares) -> str:
    roll = rng.random()
    for value, share in shares:
        if roll < share:
            return value
        roll -= share
    return shares[-1][0]


def _spread(rng: random.Random, total: int, slots: int, low: float = 0.3, high: float = 1.7) -> list[int]:
    """`total` split over `slots` with random weights (sums exactly to total)."""
    if slots <= 0:
        return []
    weights = [rng.uniform(low, high) for _ in range(slots)]
    scale = total / sum(weights)
    shares = [int(w * scale) for w in weights]
    # Rounding down lost fewer than `slots` units: give them to distinct random slots.
    for i in rng.sample(range(slots), min(slots, total - sum(shares))):
        shares[i] += 1
    return shares


# ---------------------------------------------------------------- the steps


def _import_plans():
    from flask import current_app

    from taskflow.plans.operations import import_plan_file
    from taskflow.plans.queries import district_plan

    seeds = Path(current_app.config["SEEDS_DIR"])
    for name in PLAN_DOCUMENTS:
        import_plan_file(seeds / name)
    db.session.commit()
    plan = district_plan()
    if plan is None or plan.parent_id is None:
        raise RuntimeError("the seed plans did not import as a district plan under the city plan")
    return plan


def _clone_districts(writer: _Writer, ids: _Ids, qijiang, count: int) -> list[dict]:
    """Clone the Qijiang plan for `count` other districts of the city plan; returns plan infos."""
    from taskflow.assignments.models import Assignment
    from taskflow.plans.models import KeyTask, Plan, PlanGoal, Section, Target
    from taskflow.units.models import Unit, UnitAlias, UnitGroup, unit_group_members

    districts = db.session.scalars(
        select(Unit).where(Unit.plan_id == qijiang.parent_id, Unit.kind.in_(("district", "zone")),
                           Unit.id != qijiang.parent_unit_id)
        .order_by(Unit.sort_order, Unit.id)
    ).all()[:count]
    sections = db.session.scalars(select(Section).where(Section.plan_id == qijiang.id).order_by(Section.id)).all()
    tasks = db.session.scalars(select(KeyTask).where(KeyTask.plan_id == qijiang.id).order_by(KeyTask.id)).all()
    units = db.session.scalars(select(Unit).where(Unit.plan_id == qijiang.id).order_by(Unit.sort_order, Unit.id)).all()
    aliases = db.session.scalars(select(UnitAlias).where(UnitAlias.plan_id == qijiang.id).order_by(UnitAlias.id)).all()
    groups = db.session.scalars(select(UnitGroup).where(UnitGroup.plan_id == qijiang.id).order_by(UnitGroup.id)).all()
    members = db.session.execute(
        select(unit_group_members.c.group_id, unit_group_members.c.unit_id)
        .where(unit_group_members.c.group_id.in_([g.id for g in groups]))
        .order_by(unit_group_members.c.group_id, unit_group_members.c.unit_id)
    ).all()
    task_ids = [t.id for t in tasks]
    assignments = db.session.scalars(
        select(Assignment).where(Assignment.task_id.in_(task_ids)).order_by(Assignment.id)).all()
    targets = db.session.scalars(select(Target).where(Target.plan_id == qijiang.id).order_by(Target.id)).all()
    goals = db.session.scalars(select(PlanGoal).where(PlanGoal.plan_id == qijiang.id).order_by(PlanGoal.id)).all()

    plans = []
    for number, district in enumerate(districts, start=1):
        plan_id = ids.take(Plan)
        writer.add(Plan, {
            "id": plan_id, "code": f"bench-{number:02d}-2023-2027",
            "title": f"{district.name}高新技术企业、科技型企业“双倍增”行动工作方案（2023—2027年）",
            "level": "district", "start_year": qijiang.start_year, "end_year": qijiang.end_year,
            "parent_id": qijiang.parent_id, "parent_unit_id": district.id,
            "source_name": "benchmarks.generate", "source_sha256": "", "imported_at": AS_OF_MOMENT,
        })
        section_map = {}
        for s in sections:
            section_map[s.id] = ids.take(Section)
            writer.add(Section, {"id": section_map[s.id], "plan_id": plan_id, "number": s.number,
                                 "title": s.title})
        task_map = {}
        for t in tasks:
            task_map[t.id] = ids.take(KeyTask)
            writer.add(KeyTask, {"id": task_map[t.id], "plan_id": plan_id,
                                 "section_id": section_map[t.section_id], "number": t.number,
                                 "title": t.title, "body": t.body, "units_text": t.units_text,
                                 "units_open": t.units_open})
        unit_map = {u.id: ids.take(Unit) for u in units}
        for u in sorted(units, key=lambda u: u.parent_id is not None):  # parents first
            writer.add(Unit, {"id": unit_map[u.id], "plan_id": plan_id,
                              "name": f"{district.name}·{u.name}", "kind": u.kind,
                              "peer_group": u.peer_group,
                              "parent_id": unit_map.get(u.parent_id) if u.parent_id else None,
                              "sort_order": u.sort_order})
        for a in aliases:
            writer.add(UnitAlias, {"id": ids.take(UnitAlias), "plan_id": plan_id,
                                   "unit_id": unit_map[a.unit_id],
                                   "alias": f"{district.name}·{a.alias}"})
        group_map = {}
        for g in groups:
            group_map[g.id] = ids.take(UnitGroup)
            writer.add(UnitGroup, {"id": group_map[g.id], "plan_id": plan_id, "name": g.name,
                                   "is_open": g.is_open})
        for group_id, unit_id in members:
            writer.add(unit_group_members, {"group_id": group_map[group_id],
                                            "unit_id": unit_map[unit_id]})
        for a in assignments:
            writer.add(Assignment, {
                "id": ids.take(Assignment), "task_id": task_map[a.task_id],
                "unit_id": unit_map[a.unit_id], "role": a.role,
                "added_by_office": a.added_by_office, "position": a.position,
                "requires_sign_off": a.requires_sign_off, "created_at": a.created_at,
            })
        for t in targets:
            writer.add(Target, {"id": ids.take(Target), "plan_id": plan_id,
                                "unit_id": unit_map[t.unit_id] if t.unit_id else None,
                                "indicator_id": t.indicator_id, "year": t.year, "kind": t.kind,
                                "value": t.value, "source_row": t.source_row})
        for g in goals:
            writer.add(PlanGoal, {"id": ids.take(PlanGoal), "plan_id": plan_id,
                                  "indicator_id": g.indicator_id, "year": g.year,
                                  "comparator": g.comparator, "value": g.value, "text": g.text,
                                  "unit": g.unit, "metric": g.metric, "scope": g.scope,
                                  "every_year": g.every_year,
                                  "task_id": task_map[g.task_id] if g.task_id else None})
        plans.append({"id": plan_id, "district": district.name, "number": number})
    writer.flush()
    return plans


def _create_users(writer: _Writer, ids: _Ids, district_unit_ids: list[int]) -> dict:
    """The office, leader, supervisor and admin, and a reporter and a head for every unit."""
    from taskflow.accounts.models import User
    from taskflow.core.passwords import hash_password

    password_hash = hash_password(BENCH_PASSWORD)  # one hash: every account has the same password
    people: dict = {"reporter": {}, "unit_head": {}}
    for role in ("office", "leader", "supervisor", "admin"):
        user_id = ids.take(User)
        writer.add(User, {"id": user_id, "username": f"bench-{role}", "display_name": f"基准{role}",
                          "email": None, "password_hash": password_hash, "role": role,
                          "unit_id": None, "active": True, "session_version": 1, "locale": None,
                          "created_at": AS_OF_MOMENT, "last_login_at": None})
        people[role] = user_id
    for unit_id in district_unit_ids:
        for role, prefix in (("reporter", "r"), ("unit_head", "h")):
            user_id = ids.take(User)
            writer.add(User, {"id": user_id, "username": f"bench-{prefix}{unit_id}",
                              "display_name": f"{prefix}{unit_id}", "email": f"{prefix}{unit_id}@bench.local",
                              "password_hash": password_hash, "role": role, "unit_id": unit_id,
                              "active": True, "session_version": 1, "locale": None,
                              "created_at": AS_OF_MOMENT, "last_login_at": None})
            people[role][unit_id] = user_id
    writer.flush()
    return people


def _pad_assignments(writer: _Writer, ids: _Ids, rng: random.Random, plan_ids: list[int],
                     wanted_total: int) -> None:
    """Office-added responsible assignments until the city has `wanted_total` assignments."""
    from taskflow.assignments.models import Assignment
    from taskflow.plans.models import KeyTask
    from taskflow.units.models import Unit

    have = db.session.scalar(select(func.count(Assignment.id)).join(KeyTask).where(
        KeyTask.plan_id.in_(plan_ids))) or 0
    missing = wanted_total - have
    if missing <= 0:
        return
    per_plan = _spread(rng, missing, len(plan_ids), 0.9, 1.1)
    for plan_id, extra in zip(plan_ids, per_plan, strict=True):
        task_ids = list(db.session.scalars(select(KeyTask.id).where(KeyTask.plan_id == plan_id).order_by(KeyTask.id)))
        unit_ids = list(db.session.scalars(select(Unit.id).where(Unit.plan_id == plan_id).order_by(Unit.id)))
        taken = set(db.session.execute(select(Assignment.task_id, Assignment.unit_id)
                                       .where(Assignment.task_id.in_(task_ids))).tuples())
        free = [(t, u) for t in task_ids for u in unit_ids if (t, u) not in taken]
        for task_id, unit_id in sorted(rng.sample(free, min(extra, len(free)))):
            writer.add(Assignment, {
                "id": ids.take(Assignment), "task_id": task_id, "unit_id": unit_id,
                "role": "responsible", "added_by_office": True, "position": 100,
                "requires_sign_off": False, "created_at": _utc(PLAN_START),
            })
    writer.flush()


def _milestones_and_updates(writer: _Writer, ids: _Ids, rng: random.Random, scale: float,
                            people: dict, plan_ids: list[int]) -> None:
    """Milestones on every assignment and each milestone's history of status updates."""
    from taskflow.assignments.models import (
        Assignment,
        ExtensionRequest,
        Milestone,
        StatusUpdate,
    )
    from taskflow.plans.models import KeyTask

    assignments = db.session.execute(
        select(Assignment.id, Assignment.unit_id, KeyTask.title).join(KeyTask)
        .where(KeyTask.plan_id.in_(plan_ids)).order_by(Assignment.id)
    ).all()
    per_assignment = _spread(rng, _target("milestones", scale), len(assignments))

    # Pass 1: milestones and their final states.
    plan_rows = []  # (milestone id, assignment row, due, original due, state)
    for (assignment_id, unit_id, task_title), count in zip(assignments, per_assignment, strict=True):
        if count <= len(MONTH_ENDS):
            dues = sorted(rng.sample(MONTH_ENDS, count))
        else:
            dues = sorted(rng.choice(MONTH_ENDS) for _ in range(count))
        for due in dues:
            original = due
            if rng.random() < EXTENDED_SHARE:
                due = original + timedelta(days=30)
            state = _pick(rng, PAST_STATES if due < DATA_AS_OF else FUTURE_STATES)
            plan_rows.append((ids.take(Milestone), assignment_id, unit_id, task_title, due, original, state))
    reported = [i for i, row in enumerate(plan_rows) if row[6] != "pending"]
    total_updates = _target("status_updates", scale)
    if total_updates < len(reported):  # fewer updates than reported milestones: fewer reported
        for i in rng.sample(reported, len(reported) - total_updates):
            row = plan_rows[i]
            plan_rows[i] = (*row[:6], "pending")
        reported = [i for i, row in enumerate(plan_rows) if row[6] != "pending"]
    extra = _spread(rng, total_updates - len(reported), len(reported))
    update_counts = {i: 1 + e for i, e in zip(reported, extra, strict=True)}

    office = people["office"]
    for index, (milestone_id, assignment_id, unit_id, task_title, due, original, state) in enumerate(plan_rows):
        reporter = people["reporter"][unit_id]
        count = update_counts.get(index, 0)
        title = f"{original.year}年{original.month}月工作节点"
        milestone = {
            "id": milestone_id, "assignment_id": assignment_id, "title": title, "due_date": due,
            "original_due_date": original, "weight": Decimal("1"),
            "required_evidence": "工作台账、会议纪要或照片", "state": state, "progress": 0,
            "completed_on": None, "days_late": None, "version_id": 1 + count,
            "updated_at": _utc(PLAN_START), "updated_by_id": None,
        }
        children = []  # (model, row): written after the milestone they reference
        if due != original:
            asked = original - timedelta(days=rng.randint(5, 25))
            children.append((ExtensionRequest, {
                "id": ids.take(ExtensionRequest), "milestone_id": milestone_id,
                "requested_by_id": reporter, "reason": "受客观因素影响，申请延期一个月。",
                "current_due_date": original, "requested_due_date": due,
                "created_at": _utc(asked, 10), "state": "granted", "decided_by_id": office,
                "decided_at": _utc(asked + timedelta(days=2), 15), "comment": "同意延期。",
                "version_id": 2,
            }))
        if count:
            start = _utc(max(PLAN_START, original - timedelta(days=150)))
            if state == "accepted":
                if rng.random() < 0.85:
                    done = due - timedelta(days=rng.randint(0, 20))
                else:
                    done = original + timedelta(days=rng.randint(1, 45))
                done = min(done, DATA_AS_OF - timedelta(days=1))
            else:
                done = DATA_AS_OF - timedelta(days=rng.randint(1, 20))
            end = _utc(done, rng.randint(9, 17), rng.randint(0, 59))
            if end <= start:
                start = end - timedelta(days=30)
            span = (end - start).total_seconds()
            moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count - 1))
            moments.append(end)
            progress = 5
            for n, created in enumerate(moments):
                final = n == count - 1
                # A milestone closes only when a 100 % report is accepted (measures.milestones).
                progress = 100 if final and state == "accepted" else min(95, progress + rng.randint(3, 15))
                update = {
                    "id": ids.take(StatusUpdate), "milestone_id": milestone_id, "author_id": reporter,
                    "progress": progress,
                    "narrative": rng.choice(NARRATIVES).format(n=rng.randint(2, 30)),
                    "problems": rng.choice(PROBLEMS), "next_steps": rng.choice(NEXT_STEPS),
                    "created_at": created, "state": "returned", "needs_sign_off": False,
                    "signed_off_by_id": None, "signed_off_at": None, "reviewer_id": office,
                    "reviewed_at": None, "reason_code": None, "comment": "", "version_id": 2,
                }
                if not final:
                    gap = (moments[n + 1] - created) / 2
                    update["reviewed_at"] = created + gap
                    update["reason_code"] = rng.choice(RETURN_REASONS)
                    update["comment"] = rng.choice(RETURN_COMMENTS)
                elif state == "submitted":
                    update.update(state="submitted", reviewer_id=None, version_id=1)
                else:
                    update["state"] = state
                    update["reviewed_at"] = min(created + timedelta(hours=rng.randint(1, 40)),
                                                AS_OF_MOMENT - timedelta(minutes=1))
                    if state == "returned":
                        update["reason_code"] = rng.choice(RETURN_REASONS)
                        update["comment"] = rng.choice(RETURN_COMMENTS)
                    else:
                        update["comment"] = "符合要求，予以办结。"
                children.append((StatusUpdate, update))
            last = update
            milestone["progress"] = last["progress"]
            milestone["updated_at"] = last["reviewed_at"] or last["created_at"]
            milestone["updated_by_id"] = office if last["reviewed_at"] else reporter
            if state == "accepted":
                completed = clock.to_local(last["created_at"]).date()
                milestone["completed_on"] = completed
                milestone["accepted_progress"] = 100
                milestone["days_late"] = lateness_working_days(original, completed, WORK_CALENDAR)
        writer.add(Milestone, milestone)
        for model, row in children:
            writer.add(model, row)
    writer.flush()


def _enterprises(writer: _Writer, ids: _Ids, rng: random.Random, scale: float,
                 plans: list[dict]) -> None:
    """The register: each enterprise once, attributed to one unit of one district plan."""
    from taskflow.enterprises.creditcode import generate as credit_code
    from taskflow.enterprises.models import Enterprise, add_years, certificate_fields
    from taskflow.units.models import Unit

    units = []
    for info in plans:
        for unit_id in db.session.scalars(select(Unit.id).where(Unit.plan_id == info["id"]).order_by(Unit.id)):
            units.append((unit_id, info))
    seen: set[str] = set()
    per_unit = _spread(rng, _target("enterprises", scale), len(units))
    for (unit_id, info), count in zip(units, per_unit, strict=True):
        division = info["division"]
        for _ in range(count):
            while True:
                code = credit_code(rng, division=division)
                if code not in seen:
                    seen.add(code)
                    break
            source = _pick(rng, (("stock", 0.6), ("cultivated", 0.25), ("attracted", 0.15)))
            first_day = date(2019, 1, 1) if source == "stock" else date(2023, 1, 1)
            last_day = date(2022, 12, 31) if source == "stock" else DATA_AS_OF - timedelta(days=1)
            row = {
                "id": ids.take(Enterprise),
                "name": f"重庆{info['short']}{rng.choice(WORDS)}{rng.choice(WORDS)}"
                        f"{rng.choice(TRADES)}{rng.choice(FORMS)}",
                "credit_code": code, "unit_id": unit_id, "source": source,
                "tech_in_library_on": None, "tech_removed_on": None, "high_tech_cert_no": None,
                "high_tech_cert_on": None, "high_tech_first_on": None, "high_tech_expires_on": None,
                "re_review_due_on": None, "specialised_sme": rng.random() < 0.05,
                "status": "active", "closed_on": None, "created_at": AS_OF_MOMENT,
                "updated_at": AS_OF_MOMENT, "version_id": 1,
            }
            if rng.random() < 0.85:
                on = date.fromordinal(rng.randint(first_day.toordinal(), last_day.toordinal()))
                row["tech_in_library_on"] = on
                if rng.random() < 0.05 and on + timedelta(days=60) < DATA_AS_OF:
                    row["tech_removed_on"] = on + timedelta(days=rng.randint(60, (DATA_AS_OF - on).days))
            if rng.random() < 0.2:
                on = date.fromordinal(rng.randint(first_day.toordinal(), last_day.toordinal()))
                row.update(certificate_fields(on, None, None, None))
                row["high_tech_cert_on"] = on
                row["high_tech_cert_no"] = f"GR{on.year}5{rng.randint(0, 99999999):08d}"
                renew = add_years(on, 3) - timedelta(days=rng.randint(10, 200))
                if renew < DATA_AS_OF and rng.random() < 0.6:  # re-reviewed in its third year
                    fields = certificate_fields(renew, on, row["high_tech_first_on"],
                                                row["high_tech_expires_on"])
                    row.update(fields)
                    row["high_tech_cert_on"] = renew
                    row["high_tech_cert_no"] = f"GR{renew.year}5{rng.randint(0, 99999999):08d}"
            if rng.random() < 0.02:  # closed (deregistered or moved away) after its last event
                known = [d for d in (row["tech_in_library_on"], row["tech_removed_on"],
                                     row["high_tech_cert_on"]) if d is not None]
                earliest = max(known, default=first_day) + timedelta(days=1)
                if earliest < DATA_AS_OF:
                    row["status"] = "closed"
                    row["closed_on"] = date.fromordinal(
                        rng.randint(earliest.toordinal(), DATA_AS_OF.toordinal() - 1))
            writer.add(Enterprise, row)
    writer.flush()


def _notifications(writer: _Writer, ids: _Ids, rng: random.Random, scale: float, people: dict,
                   qijiang_unit_ids: set[int]) -> None:
    """Inbox items (reminders and overdue notices) for the units' reporters."""
    from taskflow.assignments.models import Assignment, Milestone
    from taskflow.notices.links import milestone_path
    from taskflow.notices.models import Notification
    from taskflow.plans.models import KeyTask
    from taskflow.units.models import Unit

    rows = db.session.execute(
        select(Milestone.id, Milestone.assignment_id, Milestone.title, Milestone.due_date,
               Assignment.unit_id, KeyTask.title, Unit.name)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .join(KeyTask, KeyTask.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
        .where(Milestone.due_date < DATA_AS_OF + timedelta(days=14))
        .order_by(Milestone.id)
    ).all()
    if not rows:
        return
    by_unit = defaultdict(list)
    for row in rows:
        by_unit[row[4]].append(row)
    # Half the items go to Qijiang's reporters (the plan the system runs), half to everyone.
    qijiang = sorted(u for u in by_unit if u in qijiang_unit_ids)
    everyone = sorted(by_unit)
    total = _target("notifications", scale)
    path_cache = {}
    for n in range(total):
        unit_id = rng.choice(qijiang if (n % 2 == 0 and qijiang) else everyone)
        m_id, a_id, title, due, _u, task, unit_name = rng.choice(by_unit[unit_id])
        overdue = due < DATA_AS_OF
        created = AS_OF_MOMENT - timedelta(minutes=rng.randint(10, 60 * 24 * 200))
        if m_id not in path_cache:
            path_cache[m_id] = milestone_path({"id": m_id, "assignment_id": a_id})
        writer.add(Notification, {
            "id": ids.take(Notification), "user_id": people["reporter"][unit_id],
            "kind": "overdue" if overdue else "due_3",
            "params": {"milestone_id": m_id, "milestone": title, "task": task, "unit": unit_name,
                       "due_date": due.isoformat(), "working_days": 0 if overdue else 3},
            "link": path_cache[m_id], "created_at": created,
            "read_at": created + timedelta(hours=3) if rng.random() < 0.6 else None,
            "dispatch_id": None, "urge_notice_id": None, "digest_outbox_id": None,
        })
    writer.flush()


def _workflows(qijiang, people: dict, rng: random.Random, scale: float) -> None:
    """Two months of monthly dispatch and one scored month, through the real operations."""
    from flask import current_app

    from taskflow.accounts.models import User
    from taskflow.enterprises import operations as dispatch_ops
    from taskflow.enterprises.queries import dispatch_units
    from taskflow.scores import operations as score_ops

    office = db.session.get(User, people["office"])
    with current_app.test_request_context():
        # September is done (most units confirmed); October's dispatch is under way.
        # (A tiny city confirms a few units only: each confirmation is a real, audited write.)
        for month, share in (("2026-09", 0.8 if scale >= 0.05 else 0.1), ("2026-10", 0.0)):
            period = dispatch_ops.open_month(month, office, plan=qijiang)
            db.session.flush()
            for unit in dispatch_units(qijiang.id) if share else ():
                if rng.random() < share:
                    reporter = db.session.get(User, people["reporter"][unit.id])
                    dispatch_ops.confirm_figures(period, unit, "", reporter)
            db.session.commit()
        score_ops.recompute(qijiang.id, "2026-10", office, today=DATA_AS_OF)
        db.session.commit()


# ---------------------------------------------------------------- entry point


def generate(scale: float, seed: int = 1, *, progress: bool | None = None,
             workflows: bool = True) -> Summary:
    """Fill the current app's (empty, created) database with city data at `scale` (1.0 = city).

    Imports both seed plans, clones the district plan for other districts, then bulk-inserts
    users, assignments, milestones, status updates, extension requests, enterprises and
    notifications; finally opens two dispatch months and scores one month (workflows=True).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    from taskflow.plans.models import Plan
    from taskflow.units.models import Unit

    started = time.perf_counter()
    rng = random.Random(seed)
    summary = Summary(scale=scale, seed=seed)
    ids = _Ids()
    with clock.frozen_at(AS_OF_MOMENT):
        qijiang = _import_plans()
        clones = min(CLONED_DISTRICTS, max(1, round(CLONED_DISTRICTS * scale)))
        expected = (clones * 400 + _target("assignments", scale) + _target("milestones", scale)
                    + _target("status_updates", scale) + _target("enterprises", scale)
                    + _target("notifications", scale) + (clones + 1) * 120)
        bar = _progress(expected, progress)
        writer = _Writer(bar)
        plans = _clone_districts(writer, ids, qijiang, clones)
        plans.insert(0, {"id": qijiang.id, "district": "綦江区", "number": 0})
        for info in plans:
            info["division"] = f"5001{10 + info['number']:02d}" if info["number"] else "500110"
            info["short"] = info["district"].removesuffix("区").removesuffix("县")[:2]
        plan_ids = [p["id"] for p in plans]
        district_unit_ids = list(db.session.scalars(
            select(Unit.id).where(Unit.plan_id.in_(plan_ids)).order_by(Unit.id)))
        qijiang_units = set(db.session.scalars(select(Unit.id).where(Unit.plan_id == qijiang.id)))
        people = _create_users(writer, ids, district_unit_ids)
        _pad_assignments(writer, ids, rng, plan_ids, _target("assignments", scale))
        db.session.commit()
        _milestones_and_updates(writer, ids, rng, scale, people, plan_ids)
        db.session.commit()
        _enterprises(writer, ids, rng, scale, plans)
        db.session.commit()
        _notifications(writer, ids, rng, scale, people, qijiang_units)
        db.session.commit()
        _reset_sequences()
        if workflows:
            _workflows(db.session.get(Plan, qijiang.id), people, rng, scale)
        if bar is not None:
            bar.close()
        _analyze()
    # Rows in the database (the seed import's own included), per table the generator writes.
    tables = {t.name: t for t in db.metadata.sorted_tables}
    summary.counts = {name: db.session.scalar(select(func.count()).select_from(tables[name]))
                      for name in sorted(set(writer.counts) | {"plans", "units"})}
    summary.accounts = {"office": "bench-office", "leader": "bench-leader",
                        "supervisor": "bench-supervisor", "password": BENCH_PASSWORD}
    summary.seconds = time.perf_counter() - started
    return summary


def _reset_sequences() -> None:
    """PostgreSQL: move every id sequence past the explicit ids written above."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement:
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
    db.session.commit()


def _analyze() -> None:
    """PostgreSQL: planner statistics, as autovacuum would have gathered them in production.

    SQLite is left as the application leaves it: nothing there runs ANALYZE, and its averaged
    statistics mislead the planner on skewed columns (status_updates.state: a million rows in
    three values makes the index look useless, and the review badge count becomes a full scan).
    """
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def main(argv=None) -> None:
    """Command line: generate into a fresh database (created with the models' schema)."""
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("TASKFLOW_DATABASE_URL"))
    args = parser.parse_args(argv)
    from benchmarks.run import bench_app

    app = bench_app(args.database_url)
    with app.app_context():
        db.create_all()
        summary = generate(args.scale, args.seed)
    print(f"generated scale {summary.scale} in {summary.seconds:.1f} s: {summary.counts}")


if __name__ == "__main__":
    main()
