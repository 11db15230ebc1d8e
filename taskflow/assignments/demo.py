"""Demo data for `flask demo setup`: quarterly milestones for every assignment of the plan, with
this year's past quarters reported and reviewed through the real operations, so that every
closed milestone has its accepted 100 % report and its evidence file:

- most closed on time, some closed late (a few of the second quarter only in October, so the
  third-quarter bulletin's "overdue at 09-30" differs from today's count);
- some accepted below 100 %: the accepted progress is recorded and the milestone stays open
  (and overdue, since its due date has passed);
- some with a late report still waiting for the office's review: overdue all the same;
- the rest never reported: overdue, chased by the notices jobs like any other.

Reports of units that have no demo account are recorded by the office on the unit's behalf.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO

from sqlalchemy import func, select

from taskflow.accounts.models import User
from taskflow.assignments import operations as ops
from taskflow.assignments.models import Assignment, Milestone, MilestoneState
from taskflow.assignments.operations import generate_milestones
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.plans.models import KeyTask

DEMO_EVIDENCE = "季度工作进展情况说明及佐证材料（文件、照片、台账等）"


def setup_demo(plan, echo) -> None:
    """Quarterly milestones from the current quarter to the plan's end, once."""
    existing = db.session.scalar(
        select(func.count(Milestone.id)).join(Assignment).join(KeyTask)
        .where(KeyTask.plan_id == plan.id)
    )
    if existing:
        echo(f"assignments: {existing} milestones exist already")
        return
    today = clock.local_today()
    if today.year > plan.end_year:
        echo("assignments: the plan has ended; no milestones created")
        return
    created = 0
    tasks = db.session.scalars(select(KeyTask).where(KeyTask.plan_id == plan.id)
                               .order_by(KeyTask.number)).all()
    for task in tasks:
        if not db.session.scalar(select(func.count(Assignment.id))
                                 .where(Assignment.task_id == task.id)):
            continue
        made, _skipped = generate_milestones(
            task, start_year=max(today.year, plan.start_year), end_year=plan.end_year,
            frequency="quarterly", required_evidence=DEMO_EVIDENCE, weight=Decimal("1"),
            actor=None, not_before=today)
        created += made
        past, _skipped = generate_milestones(
            task, start_year=today.year, end_year=today.year, frequency="quarterly",
            required_evidence=DEMO_EVIDENCE, weight=Decimal("1"), actor=None)
        created += past
    counts = _report_past_milestones(plan, today)
    echo(f"assignments: {created} quarterly milestones created; past ones: "
         f"{counts['on_time']} closed on time, {counts['late']} closed late, "
         f"{counts['partial']} accepted below 100 % (open), {counts['waiting']} waiting for "
         f"review, {counts['returned']} returned, {counts['silent']} never reported")


def _at(day: date, hour: int) -> datetime:
    """A local time on `day`."""
    return datetime.combine(day, time(hour, 0), tzinfo=clock.LOCAL_TZ)


def _evidence(milestone: Milestone, narrative: str, kind: str = "zip"):
    """The evidence of a demo report, as units send them: a ZIP of the work summary, the summary
    as a PDF, or a photo taken on site (so the preview shows each kind)."""
    import zipfile

    from werkzeug.datastructures import FileStorage

    from taskflow.core.uploads import validate_upload

    if kind == "pdf":
        buffer, name = BytesIO(_demo_pdf()), f"{milestone.title}工作总结.pdf"
    elif kind == "photo":
        buffer, name = BytesIO(_demo_photo()), f"{milestone.title}现场照片.jpg"
    else:
        buffer, name = BytesIO(), f"{milestone.title}佐证材料.zip"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("工作总结.txt", f"{milestone.title}\n{narrative}\n")
    buffer.seek(0)
    return validate_upload(FileStorage(buffer, filename=name))


_DEMO_FILES: dict[str, bytes] = {}


def _demo_figure(kind: str) -> bytes:
    """One A4 summary page (PDF) or one on-site photo (JPEG), drawn once with matplotlib."""
    if kind in _DEMO_FILES:
        return _DEMO_FILES[kind]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from taskflow.scores.reports import cjk_font

    font = cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}
    out = BytesIO()
    with matplotlib.rc_context(rc):
        if kind == "pdf":
            fig = plt.figure(figsize=(8.27, 11.69))
            lines = (["工作总结", "", "一、本季度完成走访企业12家，摸排科技型企业培育对象。",
                      "二、组织政策宣讲会1场，帮助企业完成入库评价。", "三、下一步工作安排见附表。"]
                     if font else ["Work summary", "", "Visited 12 enterprises this quarter."])
            for row, text in enumerate(lines):
                fig.text(0.12, 0.9 - row * 0.04, text, fontsize=20 if row == 0 else 13)
            fig.savefig(out, format="pdf")
        else:
            import numpy as np

            fig = plt.figure(figsize=(8, 6), dpi=100)
            ax = fig.add_axes((0, 0, 1, 1))
            ax.imshow(np.linspace(0, 1, 256).reshape(16, 16), cmap="viridis", aspect="auto")
            ax.text(0.5, 0.5, "现场照片" if font else "On site", fontsize=48, color="white",
                    ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            fig.savefig(out, format="jpeg")
        plt.close(fig)
    _DEMO_FILES[kind] = out.getvalue()
    return _DEMO_FILES[kind]


def _demo_pdf() -> bytes:
    return _demo_figure("pdf")


def _demo_photo() -> bytes:
    return _demo_figure("photo")


def _report(milestone, author, progress: int, submitted_on: date, *, narrative: str,
            with_file: bool):
    # Every third report carries a PDF summary and a photo as well as the ZIP.
    kinds = ["zip", "pdf", "photo"] if milestone.id % 3 == 0 else ["zip"]
    files = [_evidence(milestone, narrative, kind) for kind in kinds] if with_file else []
    try:
        with clock.frozen_at(_at(submitted_on, 10)):
            return ops.submit_update(milestone, author, progress=progress, narrative=narrative,
                                     problems="", next_steps="", files=files)
    finally:
        for item in files:
            item.close()


def _review(update, office, reviewed_on: date):
    with clock.frozen_at(_at(reviewed_on, 16)):
        ops.review_update(update, office, accept=True, comment="")


def _report_past_milestones(plan, today: date) -> dict[str, int]:
    """Report and review milestones already due, through the operations (reproducible draw)."""
    rng = random.Random(2026)
    office = db.session.scalar(select(User).where(User.role == "office").order_by(User.id))
    counts = {"on_time": 0, "late": 0, "partial": 0, "waiting": 0, "returned": 0, "silent": 0}
    returned_units: set[int] = set()
    if office is None:
        return counts
    reporters = {}
    for user in db.session.scalars(select(User).where(User.role.in_(("reporter", "unit_head")),
                                                      User.unit_id.is_not(None))
                                   .order_by(User.role.desc(), User.id)):
        reporters[user.unit_id] = user
    past = db.session.scalars(
        select(Milestone).join(Assignment).join(KeyTask)
        .where(KeyTask.plan_id == plan.id, Milestone.due_date < today,
               Milestone.state == MilestoneState.PENDING)
        .order_by(Milestone.id)
    ).all()
    last_day = today - timedelta(days=1)
    for milestone in past:
        unit_id = milestone.assignment.unit_id
        author = reporters.get(unit_id, office)
        note = "" if author is not office else "（办公室代录）"
        due = milestone.due_date
        draw = rng.random()
        if draw < 0.70:  # reported in full on time, accepted a few days later
            submitted = due - timedelta(days=rng.randint(0, 10))
            update = _report(milestone, author, 100, submitted, with_file=True,
                             narrative="本季度工作已全部完成，佐证材料见附件。" + note)
            _review(update, office, min(last_day, submitted + timedelta(days=rng.randint(1, 5))))
            counts["on_time"] += 1
        elif draw < 0.82:  # reported in full late; a few second-quarter items only in October
            late_by = rng.randint(1, 20) if rng.random() < 0.75 else rng.randint(95, 110)
            submitted = min(last_day - timedelta(days=1), due + timedelta(days=late_by))
            if submitted <= due:
                counts["silent"] += 1
                continue
            update = _report(milestone, author, 100, submitted, with_file=True,
                             narrative="本季度工作已补充完成，佐证材料见附件。" + note)
            _review(update, office, min(last_day, submitted + timedelta(days=rng.randint(1, 3))))
            counts["late"] += 1
        elif draw < 0.88:  # part of the work accepted: the milestone stays open for the rest
            progress = rng.choice((40, 50, 60, 70, 80))
            submitted = due - timedelta(days=rng.randint(0, 5))
            update = _report(milestone, author, progress, submitted, with_file=True,
                             narrative=f"本季度工作完成约{progress}%，剩余部分正在推进。" + note)
            _review(update, office, min(last_day, submitted + timedelta(days=rng.randint(1, 5))))
            counts["partial"] += 1
        elif draw < 0.92:  # a late report the office has not reviewed yet
            submitted = max(due + timedelta(days=1), last_day - timedelta(days=rng.randint(0, 10)))
            _report(milestone, author, 100, min(submitted, last_day), with_file=True,
                    narrative="本季度工作已完成，请审核。" + note)
            counts["waiting"] += 1
        elif author is not office and unit_id not in returned_units:
            # One report of each demo unit came back: its people find the office's reason in
            # their inbox (the return operation tells them) and resubmit from the milestone.
            submitted = min(last_day - timedelta(days=1), due - timedelta(days=rng.randint(0, 5)))
            update = _report(milestone, author, 100, submitted, with_file=False,
                             narrative="本季度工作已完成。")
            with clock.frozen_at(_at(min(last_day, submitted + timedelta(days=1)), 16)):
                ops.review_update(update, office, accept=False, reason_code="no_evidence",
                                  comment="未附佐证材料，请补充工作台账或照片后重新报送。")
            returned_units.add(unit_id)
            counts["returned"] += 1
        else:
            counts["silent"] += 1
    db.session.flush()
    _read_old_items(today)
    return counts


def _read_old_items(today: date) -> None:
    """The demo's people have read what their inbox told them more than two weeks ago (the
    acceptances of the year's earlier quarters); recent items stay unread for the badge, and so
    does a returned report until the unit resubmits (reporting on it reads the item)."""
    from sqlalchemy import update

    from taskflow.notices.models import Notification

    cutoff = _at(today - timedelta(days=14), 0)
    db.session.execute(
        update(Notification)
        .where(Notification.read_at.is_(None), Notification.created_at < cutoff,
               Notification.kind != "report_returned")
        .values(read_at=Notification.created_at)
        .execution_options(synchronize_session=False))
