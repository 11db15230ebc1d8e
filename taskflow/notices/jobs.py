"""Scheduled work of the notices area: deadline scan, update requests, digests, outbox delivery.

Every job computes what is due from the domain tables as of clock.utcnow() (pinned by --now in
commands and tests), claims each message through a unique ReminderClaim key before creating
it, and commits once. Run twice, or by two processes at the same moment, it sends nothing twice;
run after a gap, it sends what is appropriate today, once (the "catch-up" rule below).

Catch-up rule: for one milestone and one due date only the most advanced step that applies today
is sent; the earlier steps of the ladder still unclaimed are claimed as "superseded" (nothing
sent), so a scan after a week of downtime does not flood a unit with stale reminders.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import selectinload

from taskflow.accounts.models import User
from taskflow.assignments.models import (
    REPORTABLE_STATES,
    UNIT_DONE_STATES,
    Assignment,
    Milestone,
    StatusUpdate,
)
from taskflow.core import audit, clock
from taskflow.core.db import ensure_transaction, is_postgres
from taskflow.core.schedule import Job, refuses_unknown_years, workday_calendar, writes
from taskflow.extensions import db
from taskflow.notices import channels, links, messages
from taskflow.notices.models import (
    NoticeLevel,
    NoticeSource,
    Notification,
    OutboxChannel,
    OutboxMessage,
    OutboxState,
    ReminderClaim,
    Robot,
)
from taskflow.notices.operations import (
    backoff_delay,
    claim,
    enqueue,
    existing_claims,
    issue_notice,
    notify,
    unit_users,
)
from taskflow.plans.models import KeyTask
from taskflow.units.models import Unit

log = logging.getLogger("taskflow.notices.jobs")

# Reminders before the due date: (kind, at most this many working days left).
PRE_DUE = (("due_1", 1), ("due_3", 3), ("due_7", 7))
# Kinds that reach people (digests and claims about people are not themselves news).
NEWS_ITEM_TYPES = ("milestone", "assignment", "unit")


def _setting(name: str) -> int:
    return int(current_app.config[name])


def _local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=clock.LOCAL_TZ).astimezone(timezone.utc)


def _milestone_params(row, working_days: int) -> dict:
    return {
        "milestone_id": row.id, "milestone": row.title, "task": row.task_title,
        "unit": row.unit_name, "due_date": row.due_date.isoformat(),
        "working_days": working_days,
    }


# ---------------------------------------------------------------- deadline scan


@refuses_unknown_years
@writes
def scan_deadlines(today: date | None = None, *, commit: bool = True) -> Counter:
    """Reminders before due dates, overdue notices, 催办 and 督办 (DESIGN.md §4 ladder).

    - 7, 3, 1 working days or fewer left: reminder to the unit (due_7 / due_3 / due_1);
    - overdue: notice to the unit and to the task's lead unit(s);
    - overdue URGE_AFTER_WORKING_DAYS working days, no granted extension (due date still the
      original): a yellow 催办 notice to the unit;
    - SUPERVISE_AFTER_WORKING_DAYS working days later still: a red 督办 notice to the unit head
      and the office.
    Nothing is sent on a day off (weekend, public holiday, admin override). When a day it needs
    (today, the 7-working-day horizon) lies in a year whose holiday arrangement nobody has
    entered, nothing is sent at all (see refuses_unknown_years): a reminder on a guessed day
    would fire on a holiday or a working day early.
    """
    today, cal = workday_calendar(today)
    if cal is None:
        return Counter(day_off=1)
    counts: Counter = Counter()
    urge_after = _setting("URGE_AFTER_WORKING_DAYS")
    supervise_after = urge_after + _setting("SUPERVISE_AFTER_WORKING_DAYS")
    horizon = cal.add_working_days(today, PRE_DUE[-1][1])

    rows = db.session.execute(
        select(Milestone.id, Milestone.assignment_id, Milestone.title, Milestone.due_date,
               Milestone.original_due_date, Assignment.unit_id, Assignment.task_id,
               KeyTask.title.label("task_title"), Unit.name.label("unit_name"))
        .join(Assignment, Milestone.assignment_id == Assignment.id)
        .join(KeyTask, Assignment.task_id == KeyTask.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(Milestone.state.not_in(UNIT_DONE_STATES), Milestone.due_date <= horizon)
        .order_by(Milestone.id)
    ).all()
    already = existing_claims("milestone", (row.id for row in rows))

    # Pass 1: decide the step for each milestone and claim it (in id order: no lock cycles).
    actions = []  # (row, kind, claimed, working_days, tell_lead)
    for row in rows:
        period = row.due_date.isoformat()
        if row.due_date >= today:
            left = cal.working_days_between(today, row.due_date)
            ladder = [next(kind for kind, limit in PRE_DUE if left <= limit)]
            days = left
        else:
            # Counted from the current due date: a granted extension moves it (and the claim
            # period with it), so an item is only chased once the extended date is missed too.
            days = cal.working_days_between(row.due_date, today)
            ladder = ["overdue"]
            if days >= urge_after:
                ladder.append("urge")
            if days >= supervise_after:
                ladder.append("supervise")
        top = ladder[-1]
        if (row.id, top, period) in already:
            continue
        claimed = claim("milestone", row.id, top, period, unit_id=row.unit_id)
        if claimed is None:
            continue
        tell_lead = top == "overdue"
        for earlier in ladder[:-1]:
            if (row.id, earlier, period) in already:
                continue
            if claim("milestone", row.id, earlier, period, unit_id=row.unit_id,
                     outcome="superseded") is not None and earlier == "overdue":
                tell_lead = True  # the lead unit still hears that the item is overdue
        actions.append((row, top, claimed, days, tell_lead))
    if not actions:
        return counts

    # Pass 2: recipients in bulk, then the messages.
    lead_units: dict[int, set[int]] = defaultdict(set)
    lead_task_ids = {row.task_id for row, _k, _d, _n, tell in actions if tell}
    if lead_task_ids:
        for task_id, unit_id in db.session.execute(
            select(Assignment.task_id, Assignment.unit_id).where(
                Assignment.task_id.in_(lead_task_ids), Assignment.role == "lead")
        ):
            lead_units[task_id].add(unit_id)
    unit_ids = {row.unit_id for row, *_rest in actions}
    unit_ids |= {uid for uids in lead_units.values() for uid in uids}
    people = unit_users(unit_ids)

    notice_groups: dict[tuple[str, int], list] = defaultdict(list)
    for row, kind, claimed, days, tell_lead in actions:
        params = _milestone_params(row, days)
        link = links.milestone_path({"id": row.id, "assignment_id": row.assignment_id})
        if kind in ("urge", "supervise"):
            notice_groups[(kind, row.unit_id)].append((row, claimed))
        else:
            notify(people[row.unit_id], kind, params, link, claimed=claimed)
        if tell_lead:
            leads = [uid for uid in sorted(lead_units.get(row.task_id, ())) if uid != row.unit_id]
            notify([u for uid in leads for u in people[uid]], "overdue_lead", params, link,
                   claimed=claimed)
        counts[kind] += 1

    if notice_groups:
        response_due = cal.add_working_days(today, _setting("URGE_RESPONSE_WORKING_DAYS"))
        ids = [row.id for group in notice_groups.values() for row, _d in group]
        milestones = {m.id: m for m in db.session.scalars(
            select(Milestone).where(Milestone.id.in_(ids))
            .options(selectinload(Milestone.assignment))
        )}
        for (kind, unit_id), group in sorted(notice_groups.items(), key=lambda kv: kv[0][1]):
            level = NoticeLevel.YELLOW if kind == "urge" else NoticeLevel.RED
            notice = issue_notice(unit_id, [milestones[row.id] for row, _d in group], level,
                                  response_due, source=NoticeSource.SCAN)
            for _row, claimed in group:
                claimed.urge_notice_id = notice.id
            counts[f"{kind}_notices"] += 1
    db.session.flush()
    audit.record(None, "notices.scan", object_type="reminder_dispatches",
                 after=dict(counts), summary=f"{today.isoformat()}: {dict(counts)}")
    if commit:
        db.session.commit()
    return counts


# ---------------------------------------------------------------- monthly update requests


def _assignments_with_update_since(assignment_ids: list[int], since: datetime) -> set[int]:
    """Assignments with a status update submitted since `since`."""
    if not assignment_ids:
        return set()
    query = (select(Milestone.assignment_id).join(StatusUpdate,
                                                  StatusUpdate.milestone_id == Milestone.id)
             .where(Milestone.assignment_id.in_(assignment_ids),
                    StatusUpdate.created_at >= since).distinct())
    return set(db.session.scalars(query))


@refuses_unknown_years
@writes
def request_updates(today: date | None = None, *, commit: bool = True) -> Counter:
    """Ask every open assignment for its monthly progress update, and ask again until it comes.

    An assignment is open while one of its milestones is pending, in progress or returned. The
    first request goes out on the month's first working day (or the first scan after it); while
    no status update has been submitted this month, the request is repeated every
    UPDATE_REREQUEST_WORKING_DAYS working days (after a gap: once, not once per missed step).
    """
    today, cal = workday_calendar(today)
    if cal is None:
        return Counter(day_off=1)
    counts: Counter = Counter()
    period = today.strftime("%Y-%m")
    every = max(1, _setting("UPDATE_REREQUEST_WORKING_DAYS"))
    open_milestone = exists().where(Milestone.assignment_id == Assignment.id,
                                    Milestone.state.in_(REPORTABLE_STATES))
    rows = db.session.execute(
        select(Assignment.id, Assignment.unit_id, KeyTask.title.label("task_title"),
               Unit.name.label("unit_name"))
        .join(KeyTask, Assignment.task_id == KeyTask.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(open_milestone).order_by(Assignment.id)
    ).all()
    updated = _assignments_with_update_since([r.id for r in rows], _local_midnight_utc(today.replace(day=1)))
    first_requests = dict(db.session.execute(
        select(ReminderClaim.item_id, ReminderClaim.created_at).where(
            ReminderClaim.item_type == "assignment", ReminderClaim.kind == "update_request",
            ReminderClaim.period == period)
    ).all())
    actions = []
    for row in rows:
        if row.id in updated:
            continue
        first = first_requests.get(row.id)
        if first is None:
            claimed = claim("assignment", row.id, "update_request", period, unit_id=row.unit_id)
            kind = "update_request"
        else:
            round_ = cal.working_days_between(clock.to_local(first).date(), today) // every
            if round_ < 1:
                continue
            claimed = claim("assignment", row.id, "update_rerequest", f"{period}#{round_}",
                             unit_id=row.unit_id)
            kind = "update_rerequest"
        if claimed is not None:
            actions.append((row, kind, claimed))
    if not actions:
        return counts
    people = unit_users({row.unit_id for row, *_r in actions})
    for row, kind, claimed in actions:
        notify(people[row.unit_id], kind,
               {"assignment_id": row.id, "task": row.task_title, "unit": row.unit_name,
                "period": period},
               links.milestone_path({"id": None, "assignment_id": row.id}), claimed=claimed)
        counts[kind] += 1
    audit.record(None, "notices.request_updates", object_type="reminder_dispatches",
                 after=dict(counts), summary=f"{today.isoformat()}: {dict(counts)}")
    if commit:
        db.session.commit()
    return counts


# ---------------------------------------------------------------- daily digest


def _digest_text(user: User, items: list[Notification], today: date) -> tuple[str, str]:
    subject = _("[TaskFlow] %(date)s: %(count)s items for you", date=today.isoformat(),
                count=len(items))
    lines = [_("Hello %(name)s,", name=user.display_name or user.username), "",
             _("As of %(date)s you have these items:", date=today.isoformat()), ""]
    for number, item in enumerate(items, start=1):
        title, detail = messages.render(item.kind, item.params)
        lines.append(f"{number}. {title}")
        if detail:
            lines.append(f"   {detail}")
        lines.append(f"   {links.absolute(item.link or links.inbox_path())}")
        lines.append("")
    lines += ["--", _("Qijiang District double-doubling joint-meeting office · TaskFlow"),
              _("Your inbox: %(url)s", url=links.absolute(links.inbox_path())),
              _("This message was sent automatically; please do not reply.")]
    return subject, "\n".join(lines)


def _webhook_payload(today: date, rows) -> dict:
    names = {
        "due_7": _("due within 7 working days"), "due_3": _("due within 3 working days"),
        "due_1": _("due within 1 working day"), "overdue": _("overdue"),
        "urge": _("urge notices (催办)"), "supervise": _("supervision notices (督办)"),
        "update_request": _("monthly updates requested"),
        "update_rerequest": _("monthly updates still missing"),
        "dispatch_remind": _("monthly figures not confirmed"),
        "lead_remind": _("reminded by the lead unit to report"),
    }
    lines = [_("TaskFlow daily summary %(date)s", date=today.isoformat())]
    for unit_name, kind, count in rows:
        lines.append(f"· {unit_name or '-'}: {names.get(kind, kind)} {count}")
    lines.append(links.absolute(links.build_path("core.home")))
    content = "\n".join(lines)
    return {"msgtype": "text", "text": {"content": content}}


@writes
def send_digests(*, commit: bool = True) -> Counter:
    """One e-mail per person with the inbox items not e-mailed yet, and one webhook summary.

    Claimed per person and day ("digest"), so a second run the same day sends nothing; items
    that arrive after today's digest go out tomorrow. Nobody gets an empty mail.
    """
    now = clock.utcnow()
    today = clock.local_today()
    oldest = now - timedelta(days=_setting("DIGEST_MAX_AGE_DAYS"))
    counts: Counter = Counter()
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]

    pending = db.session.execute(
        select(Notification, User).join(User, Notification.user_id == User.id)
        .where(Notification.digest_outbox_id.is_(None), Notification.created_at <= now,
               Notification.created_at >= oldest, User.active.is_(True),
               User.email.is_not(None), User.email != "")
        .order_by(User.id, Notification.id)
    ).all()
    by_user: dict[int, tuple[User, list[Notification]]] = {}
    for item, user in pending:
        by_user.setdefault(user.id, (user, []))[1].append(item)
    for user, items in by_user.values():
        if claim("user", user.id, "digest", today.isoformat(), unit_id=user.unit_id) is None:
            continue
        with force_locale(user.locale or default_locale):
            subject, body = _digest_text(user, items, today)
        message = enqueue("email", user.email, subject=subject, body=body, user_id=user.id)
        db.session.execute(
            update(Notification).where(Notification.id.in_([i.id for i in items]))
            .values(digest_outbox_id=message.id).execution_options(synchronize_session=False)
        )
        counts["emails"] += 1

    url = current_app.config["WEBHOOK_URL"]
    if url:
        news = and_(ReminderClaim.webhook_outbox_id.is_(None), ReminderClaim.outcome == "sent",
                    ReminderClaim.item_type.in_(NEWS_ITEM_TYPES),
                    ReminderClaim.created_at <= now, ReminderClaim.created_at >= oldest)
        rows = db.session.execute(
            select(Unit.name, ReminderClaim.kind, func.count(ReminderClaim.id))
            .outerjoin(Unit, ReminderClaim.unit_id == Unit.id).where(news)
            .group_by(Unit.name, ReminderClaim.kind).order_by(Unit.name, ReminderClaim.kind)
        ).all()
        if rows and claim("system", 0, "webhook_digest", today.isoformat()) is not None:
            with force_locale(default_locale):
                payload = _webhook_payload(today, rows)
            message = enqueue("webhook", url, subject="daily summary", payload=payload)
            db.session.execute(update(ReminderClaim).where(news)
                               .values(webhook_outbox_id=message.id)
                               .execution_options(synchronize_session=False))
            counts["webhooks"] += 1
    if commit:
        db.session.commit()
    return counts


# ---------------------------------------------------------------- outbox delivery


def _worker_name() -> str:
    """host:pid:thread, recorded on each claimed row."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:120]


@writes
def deliver_outbox(*, limit: int = 200, worker: str | None = None) -> Counter:
    """Send due outbox rows, each claimed once by a conditional UPDATE (rowcount 1 = ours).

    A failure puts the row back with exponential backoff; after OUTBOX_MAX_ATTEMPTS it is
    "failed" and shows on the admins' outbox page (a pending row with an error shows there too,
    with its reason). A group-robot message over its robot's ROBOT_RATE_PER_MINUTE stays pending
    for the next minute without using an attempt. A row left "sending" for longer than
    OUTBOX_STALE_MINUTES (the process died mid-delivery) is marked failed rather than sent again
    blindly: the server may have taken it, so an admin decides whether to retry.
    """
    worker = worker or _worker_name()
    counts: Counter = Counter()
    now = clock.utcnow()
    stale = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.SENDING,
               OutboxMessage.claimed_at < now - timedelta(minutes=_setting("OUTBOX_STALE_MINUTES")))
        .values(state=OutboxState.FAILED,
                last_error="interrupted during delivery; it may or may not have been sent")
        .execution_options(synchronize_session=False)
    )
    counts["interrupted"] = stale.rowcount or 0
    due = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.robot_id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id).limit(limit)
    ).all()
    db.session.commit()
    max_attempts = _setting("OUTBOX_MAX_ATTEMPTS")
    base = _setting("OUTBOX_BACKOFF_SECONDS")
    for message_id, robot_id in due:
        if robot_id is not None and _robot_over_limit(message_id, robot_id, now):
            counts["rate_limited"] += 1
            continue
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == OutboxState.PENDING,
                   OutboxMessage.next_attempt_at <= now)
            .values(state=OutboxState.SENDING, claimed_by=worker, claimed_at=now,
                    attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if claimed.rowcount != 1:
            counts["taken_by_other"] += 1
            continue
        message = db.session.get(OutboxMessage, message_id)
        db.session.refresh(message)
        # Deliver a plain copy outside any transaction: on SQLite an open transaction would hold
        # the write lock while a slow mail server answers, and web requests would wait.
        copy = SimpleNamespace(**{c.key: getattr(message, c.key) for c in OutboxMessage.__table__.columns})
        if message.channel == OutboxChannel.ROBOT:
            _add_robot_details(copy)
        db.session.commit()
        error: Exception | None = None
        try:
            channels.deliver(copy)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            error = exc
        if error is not None:
            log.warning("outbox %s (%s → %s) failed: %s", message.id, message.channel,
                        message.recipient, error)
            message.last_error = str(error)[:2000]
            if message.attempts >= max_attempts:
                message.state = OutboxState.FAILED
                counts["failed"] += 1
            else:
                message.state = OutboxState.PENDING
                message.next_attempt_at = now + backoff_delay(message.attempts, base)
                counts["retry_later"] += 1
        else:
            message.state = OutboxState.SENT
            message.sent_at = clock.utcnow()
            message.last_error = None
            counts["sent"] += 1
        db.session.commit()
    return counts


def _robot_over_limit(message_id: int, robot_id: int, now: datetime) -> bool:
    """True when the robot has had ROBOT_RATE_PER_MINUTE messages claimed in the last minute:
    the message stays pending, its next attempt moved to when the oldest of them is a minute old
    (no attempt counted), and the transaction is committed. Otherwise False, and the transaction
    stays open for the caller's claim: the count and the claim are one write transaction, the
    robot row locked on PostgreSQL (SQLite: the write lock), so two workers cannot both take the
    last place in the minute."""
    ensure_transaction(db.session)
    if is_postgres(db.session):
        db.session.execute(select(Robot.id).where(Robot.id == robot_id).with_for_update())
    window = now - timedelta(minutes=1)
    taken, oldest = db.session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.claimed_at))
        .where(OutboxMessage.robot_id == robot_id, OutboxMessage.claimed_at > window,
               OutboxMessage.claimed_at <= now)
    ).one()
    if taken < _setting("ROBOT_RATE_PER_MINUTE"):
        return False
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == OutboxState.PENDING)
        .values(next_attempt_at=(oldest or now) + timedelta(minutes=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return True


def _add_robot_details(copy: SimpleNamespace) -> None:
    """The robot's address and secret, and the mobile numbers of the people to @, read when the
    message is sent (a number changed since the event is the one used)."""
    robot = db.session.get(Robot, copy.robot_id)
    copy.robot = SimpleNamespace(platform=robot.platform, webhook_url=robot.webhook_url,
                                 secret=robot.secret, name=robot.name, active=robot.active)
    ids = list((copy.payload or {}).get("mention_user_ids") or [])
    copy.mobiles = []
    if ids:
        copy.mobiles = [number for number in db.session.scalars(
            select(User.mobile).where(User.id.in_(ids), User.active.is_(True),
                                      User.mobile.is_not(None)).order_by(User.id)) if number]


# The notices area's scheduled jobs (collected by taskflow/scheduler.py; times Asia/Shanghai).
SCHEDULE = (
    Job("deadline_scan", scan_deadlines, "cron", {"hour": 8, "minute": 30}),
    Job("update_requests", request_updates, "cron", {"hour": 9, "minute": 0}),
    Job("outbox_delivery", deliver_outbox, "cron", {"minute": "*"}),
    Job("daily_digest", send_digests, "cron", {"hour": 17, "minute": 30}),
)
