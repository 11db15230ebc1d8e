"""Writes of the notices area: claims, notifications, urge notices, outbox rows, calendar overrides.

Every function flushes and leaves the commit to its caller (a view or a job).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import urllib.parse
from collections.abc import Iterable
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import event, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taskflow.accounts.models import User
from taskflow.assignments.models import UNIT_DONE_STATES
from taskflow.core import audit, clock
from taskflow.core.db import ensure_transaction, next_in_series
from taskflow.core.errors import Refusal
from taskflow.core.roles import Role
from taskflow.core.models import CalendarYear, WorkdayOverride
from taskflow.extensions import db
from taskflow.notices.models import (
    NoticeLevel,
    NoticeSeries,
    NoticeSource,
    Notification,
    OutboxChannel,
    OutboxMessage,
    OutboxState,
    ReminderClaim,
    Robot,
    RobotPlatform,
    UrgeNotice,
)

# Serialises notice numbering on PostgreSQL (SQLite transactions are serialised already).
NOTICE_NUMBER_LOCK_KEY = 7_310_005

SERIES_WORD = {NoticeSeries.URGE: "催", NoticeSeries.SUPERVISE: "督"}


class NoticeError(Refusal):
    """A request that cannot be carried out, with a message for the user."""


# ---------------------------------------------------------------- exactly-once claims


def claim(item_type: str, item_id: int, kind: str, period: str, *, unit_id: int | None = None,
          outcome: str = "sent") -> ReminderClaim | None:
    """Insert the claim key (item, kind, period); None when someone already claimed it.

    The insert runs in a SAVEPOINT: a unique-constraint violation (another scan, an earlier run)
    rolls back only this claim, and the caller sends nothing for it.
    """
    claimed = ReminderClaim(item_type=item_type, item_id=item_id, kind=kind, period=period,
                               unit_id=unit_id, outcome=outcome, created_at=clock.utcnow())
    ensure_transaction(db.session)
    try:
        with db.session.begin_nested():
            db.session.add(claimed)
            db.session.flush()
    except IntegrityError:
        return None
    return claimed


def existing_claims(item_type: str, item_ids: Iterable[int]) -> set[tuple[int, str, str]]:
    """(item_id, kind, period) already claimed for these items (one query; an optimisation only)."""
    ids = list(set(item_ids))
    if not ids:
        return set()
    rows = db.session.execute(
        select(ReminderClaim.item_id, ReminderClaim.kind, ReminderClaim.period).where(
            ReminderClaim.item_type == item_type, ReminderClaim.item_id.in_(ids)
        )
    )
    return {tuple(row) for row in rows}


# ---------------------------------------------------------------- recipients


def unit_users(unit_ids: Iterable[int], *, heads_only: bool = False) -> dict[int, list[User]]:
    """Active reporters and unit heads (or heads only) of each unit (one query)."""
    ids = list(set(unit_ids))
    result: dict[int, list[User]] = {uid: [] for uid in ids}
    if not ids:
        return result
    roles = [Role.UNIT_HEAD] if heads_only else [Role.REPORTER, Role.UNIT_HEAD]
    users = db.session.scalars(
        select(User).where(User.unit_id.in_(ids), User.active.is_(True), User.role.in_(roles))
        .order_by(User.id)
    )
    for user in users:
        result[user.unit_id].append(user)
    return result


def office_users() -> list[User]:
    """Active members of the joint-meeting office."""
    return list(db.session.scalars(
        select(User).where(User.role == Role.OFFICE, User.active.is_(True)).order_by(User.id)
    ))


# ---------------------------------------------------------------- notifications


def notify(users: Iterable[User], kind: str, params: dict, link: str, *,
           claimed: ReminderClaim | None = None,
           notice: UrgeNotice | None = None,
           event_key: str | None = None) -> list[Notification]:
    """One inbox item per distinct user, and one message per group robot concerned.

    Robots: a unit's active robots (its work group) carry the event for that unit's recipients,
    @-mentioning them by mobile number; the office's robots (no unit) for the office's
    recipients. Each robot gets the event once, ever (robot_event_key: see there), so a job run
    twice or by two processes enqueues nothing twice. A caller outside a claim or a notice should
    pass `event_key` naming its event (e.g. f"update:{update.id}:returned")."""
    created = []
    seen: set[int] = set()
    recipients: list[User] = []
    now = clock.utcnow()
    for user in users:
        if user.id in seen:
            continue
        seen.add(user.id)
        recipients.append(user)
        item = Notification(user_id=user.id, kind=kind, params=params, link=link, created_at=now,
                            dispatch_id=claimed.id if claimed else None,
                            urge_notice_id=notice.id if notice else None)
        db.session.add(item)
        created.append(item)
    db.session.flush()
    notify_robots(recipients, kind, params, link,
                  robot_event_key(kind, params, link, claimed=claimed, notice=notice,
                                  event_key=event_key))
    return created


# ---------------------------------------------------------------- group robots


def robot_event_key(kind: str, params: dict, link: str, *, claimed: ReminderClaim | None = None,
                    notice: UrgeNotice | None = None, event_key: str | None = None) -> str:
    """The stable name of one event, the same however often or by whom it is notified.

    A claimed reminder is its claim (unique per item, kind and period) and the kind; a notice's
    message is the notice and the kind (issued, answered); otherwise the caller's event_key, or
    failing that the kind, the link and a digest of the params (no time in it: the same event
    notified again yields the same key, and a new event differs in its params or link)."""
    if event_key:
        key = f"event:{event_key}"
    elif claimed is not None:
        key = f"claim:{claimed.id}:{kind}"
    elif notice is not None:
        key = f"notice:{notice.id}:{kind}"
    else:
        digest = hashlib.sha256(json.dumps(params or {}, sort_keys=True, ensure_ascii=False,
                                           default=str).encode("utf-8")).hexdigest()[:24]
        key = f"{kind}:{link}:{digest}"
    if len(key) > 200:
        key = key[:150] + ":" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return key


def robot_content(kind: str, params: dict, link: str, people: list[User]) -> dict:
    """The words of a robot message, in the site's default language (a group has no locale)."""
    from flask import current_app
    from flask_babel import force_locale

    from taskflow.notices import links, messages

    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        title, detail = messages.render(kind, params)
        label = _("Open in TaskFlow")
    return {
        "title": title, "lines": [detail] if detail else [],
        "link": links.absolute(link) if link else "", "link_label": label,
        "mention_user_ids": [user.id for user in people],
        "mention_names": [user.display_name or user.username for user in people],
    }


def _robot_audience(users: list[User]) -> dict[int | None, list[User]]:
    """Recipients by robot owner: a unit's reporters and head under its id, the office under None."""
    audience: dict[int | None, list[User]] = {}
    for user in users:
        if user.role in (Role.REPORTER, Role.UNIT_HEAD) and user.unit_id is not None:
            audience.setdefault(user.unit_id, []).append(user)
        elif user.role == Role.OFFICE:
            audience.setdefault(None, []).append(user)
    return audience


_ACTIVE_ROBOTS = "taskflow_active_robots"


def _active_robots() -> list[Robot]:
    """Every active robot, read once per transaction: a job that notifies thousands of items
    asks the database once, not once per item."""
    info = db.session.info
    if _ACTIVE_ROBOTS not in info:
        info[_ACTIVE_ROBOTS] = db.session.scalars(
            select(Robot).where(Robot.active.is_(True)).order_by(Robot.id)).all()
    return info[_ACTIVE_ROBOTS]


@event.listens_for(Session, "after_transaction_end")
def _forget_active_robots(session, transaction) -> None:
    if transaction.parent is None:  # the outer transaction ended (not a SAVEPOINT of it)
        session.info.pop(_ACTIVE_ROBOTS, None)


def notify_robots(users: list[User], kind: str, params: dict, link: str,
                  key: str) -> list[OutboxMessage]:
    """Enqueue the event once for each active robot whose owner has recipients (see notify)."""
    audience = _robot_audience(users)
    if not audience:
        return []
    queued = []
    for robot in (r for r in _active_robots() if r.unit_id in audience):
        people = audience[robot.unit_id]
        message = enqueue_robot(robot, key, robot_content(kind, params, link, people))
        if message is not None:
            queued.append(message)
    return queued


def robot_label(robot: Robot) -> str:
    """What the outbox shows as a robot message's recipient (never the URL: it holds the key)."""
    return f"{robot.name} [{robot.platform} #{robot.id}]"[:500]


def enqueue_robot(robot: Robot, key: str, content: dict) -> OutboxMessage | None:
    """Queue one robot message; None when this robot already has the event (exactly once).

    The insert runs in a SAVEPOINT: the unique (robot_id, dedupe_key) refuses a second copy —
    from a retried job, a second scheduler or a concurrent request — and only it is undone."""
    now = clock.utcnow()
    text = "\n".join([content["title"], *content.get("lines", [])])
    message = OutboxMessage(channel=OutboxChannel.ROBOT, recipient=robot_label(robot),
                            subject=content["title"][:300], body=text, payload=content,
                            robot_id=robot.id, dedupe_key=key, state=OutboxState.PENDING,
                            attempts=0, next_attempt_at=now, created_at=now)
    ensure_transaction(db.session)
    try:
        with db.session.begin_nested():
            db.session.add(message)
            db.session.flush()
    except IntegrityError:
        return None
    return message


ROBOT_URL_HINTS = {
    RobotPlatform.DINGTALK: "https://oapi.dingtalk.com/robot/send?access_token=…",
    RobotPlatform.WECOM: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    RobotPlatform.FEISHU: "https://open.feishu.cn/open-apis/bot/v2/hook/…",
}


def check_robot_url(platform: str, url: str) -> str:
    """The webhook URL, stripped; NoticeError when it is not an http(s) URL of that platform's
    shape (WeCom: …/cgi-bin/webhook/send?key=KEY)."""
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 1000 \
            or any(ch.isspace() for ch in url):
        raise NoticeError(_("Enter the robot's webhook address (https://…)."), field="webhook_url")
    if platform == RobotPlatform.WECOM and (
            not parts.path.endswith("/cgi-bin/webhook/send")
            or not urllib.parse.parse_qs(parts.query).get("key")):
        raise NoticeError(_("A WeCom robot's address ends in /cgi-bin/webhook/send?key=… (copy it "
                            "from the robot's settings)."), field="webhook_url")
    return url


def mask_url(url: str | None) -> str:
    """The address without its token or key: https://oapi.dingtalk.com/robot/send?…"""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    path = parts.path
    if platform_hides_path(parts.path):
        path = path.rsplit("/", 1)[0] + "/…"
    return f"{parts.scheme}://{parts.netloc}{path}" + ("?…" if parts.query else "")


def platform_hides_path(path: str) -> bool:
    """Feishu puts its token in the path (…/hook/<token>)."""
    return "/bot/v2/hook/" in path


def _robot_snapshot(robot: Robot) -> dict:
    """What an audit event shows of a robot: the URL masked, whether a secret is set."""
    return {"platform": robot.platform, "name": robot.name, "webhook_url": mask_url(robot.webhook_url),
            "secret": "set" if robot.secret else "none", "unit_id": robot.unit_id,
            "active": robot.active}


def save_robot(robot: Robot | None, *, platform: str, name: str, webhook_url: str | None,
               secret: str | None, clear_secret: bool, unit_id: int | None, active: bool,
               actor: User, expected_version: int | None = None) -> Robot:
    """Create (robot None) or change a robot. An empty webhook_url or secret on an existing robot
    keeps the stored one (they are never shown back); clear_secret removes the secret."""
    if platform not in {p.value for p in RobotPlatform}:
        raise NoticeError(_("Choose a platform."), field="platform")
    name = (name or "").strip()
    if not name:
        raise NoticeError(_("Give the robot a name."), field="name")
    if robot is not None and expected_version is not None and expected_version != robot.version_id:
        raise NoticeError(_("Someone else changed this robot in the meantime. Reload the page and "
                            "try again."))
    if robot is None and not (webhook_url or "").strip():
        raise NoticeError(_("Enter the robot's webhook address (https://…)."), field="webhook_url")
    url = check_robot_url(platform, webhook_url if (webhook_url or "").strip()
                          else robot.webhook_url)
    before = None if robot is None else _robot_snapshot(robot)
    if robot is None:
        robot = Robot(created_at=clock.utcnow())
        db.session.add(robot)
    robot.platform = platform
    robot.name = name[:120]
    robot.webhook_url = url
    if clear_secret:
        robot.secret = None
    elif (secret or "").strip():
        robot.secret = secret.strip()
    robot.unit_id = unit_id
    robot.active = active
    robot.updated_at = clock.utcnow()
    db.session.flush()
    db.session.info.pop(_ACTIVE_ROBOTS, None)
    after = _robot_snapshot(robot)
    if before is not None and secret and not clear_secret:
        after["secret"] = "changed"
    audit.record(actor, "notices.robot_create" if before is None else "notices.robot_update",
                 robot, before=before, after=after, summary=robot.name)
    return robot


def send_robot_test(robot: Robot, actor: User) -> OutboxMessage:
    """Queue a test message to the robot (a new event each time); it goes out within a minute."""
    from flask import current_app
    from flask_babel import force_locale

    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        content = {
            "title": _("TaskFlow test message"),
            "lines": [_("%(name)s is connected to TaskFlow; reminders and notices for this group "
                        "will arrive here.", name=robot.name)],
            "link": "", "link_label": "", "mention_user_ids": [actor.id],
            "mention_names": [actor.display_name or actor.username],
        }
    message = enqueue_robot(robot, f"test:{secrets.token_hex(8)}", content)
    audit.record(actor, "notices.robot_test", robot, after={"outbox_id": message.id},
                 summary=robot.name)
    return message


def mark_read(notification: Notification) -> None:
    """Mark one of the user's inbox items read (personal state: not audited)."""
    if notification.read_at is None:
        notification.read_at = clock.utcnow()
        db.session.flush()


def mark_all_read(user: User) -> int:
    """Mark every unread item of the user read; returns how many."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.utcnow())
    )
    return result.rowcount or 0


def mark_read_about(user: User | None, *, links: Iterable[str] = (),
                    notice_id: int | None = None) -> int:
    """The user acted on what some inbox items are about (answered the notice, reported on the
    milestone, confirmed the month): those of the user's items still unread are read now.

    Related items: those pointing at one of `links` (the page the item opens), or carrying the
    urge notice `notice_id`. Personal state, not audited; returns how many were marked."""
    if user is None or getattr(user, "id", None) is None:
        return 0
    wanted = sorted({link for link in links if link})
    conditions = []
    if wanted:
        conditions.append(Notification.link.in_(wanted))
    if notice_id is not None:
        conditions.append(Notification.urge_notice_id == notice_id)
    if not conditions:
        return 0
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None), or_(*conditions))
        .values(read_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# ---------------------------------------------------------------- urge notices


def _series_for(level: str) -> str:
    return NoticeSeries.SUPERVISE if level == NoticeLevel.RED else NoticeSeries.URGE


def format_number(prefix: str, series: str, year: int, sequence: int) -> str:
    """綦科催〔2024〕3号 / 綦科督〔2024〕1号."""
    return f"{prefix}{SERIES_WORD[series]}〔{year}〕{sequence}号"


def _next_sequence(series: str, year: int) -> int:
    return next_in_series(db.session, UrgeNotice.sequence, UrgeNotice.series == series,
                          UrgeNotice.year == year, lock_key=NOTICE_NUMBER_LOCK_KEY)


def issue_notice(unit_id: int, milestones: list, level: str, response_due: date, *,
                 note: str = "", actor: User | None = None,
                 source: str = NoticeSource.OFFICE) -> UrgeNotice:
    """Create a numbered notice for one unit about the given milestones, and tell its recipients.

    Recipients: blue and yellow notices go to the unit's reporters and head; red (督办) to the
    unit head and the office.
    """
    from flask import current_app

    from taskflow.notices import links

    if level not in {lv.value for lv in NoticeLevel}:
        raise NoticeError(_("Unknown notice level."))
    if not milestones:
        raise NoticeError(_("Select at least one item."))
    if any(m.assignment.unit_id != unit_id for m in milestones):
        raise NoticeError(_("A notice covers the items of one unit only."))
    today = clock.local_today()
    if response_due < today:
        raise NoticeError(_("The answer date cannot be in the past."))
    series = _series_for(level)
    year = today.year
    prefix = current_app.config["NOTICE_NUMBER_PREFIX"]
    notice = None
    for _attempt in range(5):
        sequence = _next_sequence(series, year)
        candidate = UrgeNotice(
            series=series, year=year, sequence=sequence,
            number=format_number(prefix, series, year, sequence), level=level, unit_id=unit_id,
            note=note, response_due=response_due, source=source,
            issued_by_id=actor.id if actor else None, issued_at=clock.utcnow(),
        )
        candidate.items = list(milestones)
        ensure_transaction(db.session)
        try:
            with db.session.begin_nested():
                db.session.add(candidate)
                db.session.flush()
        except IntegrityError:
            continue  # another writer took the number: take the next one
        notice = candidate
        break
    if notice is None:
        raise NoticeError(_("No notice number could be allocated; please try again."))

    if level == NoticeLevel.RED:
        recipients = unit_users([unit_id], heads_only=True)[unit_id] + office_users()
    else:
        recipients = unit_users([unit_id])[unit_id]
    params = {
        "number": notice.number, "level": level, "unit": notice.unit.name,
        "count": len(milestones), "response_due": response_due.isoformat(),
        "items": [m.title for m in milestones][:5],
    }
    notify(recipients, f"notice_{level}", params, links.notice_path(notice.id), notice=notice)
    audit.record(actor, "notices.issue", notice, after={
        "number": notice.number, "level": level, "unit_id": unit_id, "source": source,
        "milestones": [m.id for m in milestones], "response_due": response_due,
    }, summary=f"{notice.number} → {notice.unit.name}")
    return notice


def acknowledge_notice(notice: UrgeNotice, actor: User) -> None:
    """The unit confirms it has received the notice (once)."""
    if notice.acknowledged_at is not None:
        raise NoticeError(_("This notice has already been acknowledged."))
    notice.acknowledged_at = clock.utcnow()
    notice.acknowledged_by_id = actor.id
    db.session.flush()
    mark_read_about(actor, notice_id=notice.id)
    audit.record(actor, "notices.acknowledge", notice, after={"acknowledged_at": notice.acknowledged_at},
                 summary=notice.number)


def respond_to_notice(notice: UrgeNotice, response: str, actor: User) -> None:
    """The unit answers the notice; answering also acknowledges it. The office is told."""
    from taskflow.notices import links

    response = (response or "").strip()
    if not response:
        raise NoticeError(_("Write what has been done and when the items will be completed."))
    if notice.responded_at is not None:
        raise NoticeError(_("This notice has already been answered."))
    before = {"response": notice.response, "responded_at": notice.responded_at}
    now = clock.utcnow()
    if notice.acknowledged_at is None:
        notice.acknowledged_at = now
        notice.acknowledged_by_id = actor.id
    notice.response = response
    notice.responded_at = now
    notice.responded_by_id = actor.id
    notice.answered_late = clock.to_local(now).date() > notice.response_due
    db.session.flush()
    mark_read_about(actor, notice_id=notice.id)
    recipients = office_users()
    if notice.issued_by is not None and notice.issued_by.active:
        recipients.append(notice.issued_by)
    notify(recipients, "notice_answered", {
        "number": notice.number, "unit": notice.unit.name,
        "late": notice.answered_late,
    }, links.notice_path(notice.id), notice=notice)
    audit.record(actor, "notices.respond", notice, before=before,
                 after={"response": response, "responded_at": now}, summary=notice.number)


# ---------------------------------------------------------------- outbox


def enqueue(channel: str, recipient: str, *, subject: str = "", body: str = "",
            payload: dict | None = None, user_id: int | None = None) -> OutboxMessage:
    """Queue one message for delivery by the outbox job."""
    now = clock.utcnow()
    message = OutboxMessage(channel=channel, recipient=recipient, subject=subject[:300], body=body,
                            payload=payload, user_id=user_id, state=OutboxState.PENDING,
                            attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(message)
    db.session.flush()
    return message


def retry_outbox(message: OutboxMessage, actor: User) -> None:
    """An admin sends a failed message again."""
    if message.state != OutboxState.FAILED:
        raise NoticeError(_("Only failed messages can be retried."))
    before = {"state": message.state, "attempts": message.attempts}
    message.state = OutboxState.PENDING
    message.attempts = 0
    message.next_attempt_at = clock.utcnow()
    message.claimed_by = None
    message.claimed_at = None
    db.session.flush()
    audit.record(actor, "notices.outbox_retry", message, before=before,
                 after={"state": message.state}, summary=message.recipient)


def backoff_delay(attempts: int, base_seconds: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base, … after the 1st, 2nd, 3rd failed attempt."""
    return timedelta(seconds=base_seconds * (2 ** max(0, attempts - 1)))


# ---------------------------------------------------------------- working-day overrides


def set_workday_override(day: date, is_workday: bool, note: str, actor: User) -> WorkdayOverride:
    """Create or change the override for one date."""
    override = db.session.scalar(select(WorkdayOverride).where(WorkdayOverride.day == day))
    before = None
    if override is None:
        override = WorkdayOverride(day=day, is_workday=is_workday, note=note)
        db.session.add(override)
    else:
        before = {"is_workday": override.is_workday, "note": override.note}
        override.is_workday = is_workday
        override.note = note
    override.updated_by_id = actor.id
    override.updated_at = clock.utcnow()
    db.session.flush()
    audit.record(actor, "notices.workday_override", override, before=before,
                 after={"day": day, "is_workday": is_workday, "note": note}, summary=day.isoformat())
    return override


def delete_workday_override(override: WorkdayOverride, actor: User) -> None:
    """Remove an override: the date follows the national calendar again."""
    before = {"day": override.day, "is_workday": override.is_workday, "note": override.note}
    audit.record(actor, "notices.workday_override_delete", override, before=before,
                 summary=override.day.isoformat())
    db.session.delete(override)
    db.session.flush()


def enter_calendar_year(text: str, year: int, actor: User):
    """Store a year's official holiday arrangement from the pasted State Council notice.

    The text is parsed here again (never the preview's result sent back by the browser); a text
    that cannot be read raises holiday_notice.NoticeParseError and writes nothing. The notice's
    rest days and make-up working days become workday_overrides marked with the year (a day the
    admin had overridden by hand takes the notice's value); entering a year again replaces what
    its earlier notice wrote. Returns (CalendarYear, Arrangement)."""
    from taskflow.notices.holiday_notice import parse_notice

    arrangement = parse_notice(text, year)
    days = arrangement.overrides()
    row = db.session.scalar(select(CalendarYear).where(CalendarYear.year == year))
    before = None
    if row is None:
        row = CalendarYear(year=year)
        db.session.add(row)
    else:
        before = {"rest_days": row.rest_days, "make_up_days": row.make_up_days,
                  "entered_at": row.entered_at}
    existing = {o.day: o for o in db.session.scalars(select(WorkdayOverride).where(
        (WorkdayOverride.notice_year == year) | WorkdayOverride.day.in_(list(days))))}
    now = clock.utcnow()
    for day, override in existing.items():
        if day not in days:  # written by this year's earlier notice, not by this one
            db.session.delete(override)
    for day, working in sorted(days.items()):
        override = existing.get(day)
        if override is None:
            override = WorkdayOverride(day=day)
            db.session.add(override)
        override.is_workday = working
        override.note = (_holiday_note(arrangement, day) or "")[:200]
        override.notice_year = year
        override.updated_by_id = actor.id
        override.updated_at = now
    row.source = "notice"
    row.notice_text = text.strip()
    row.rest_days = len(arrangement.rest_days)
    row.make_up_days = len(arrangement.make_up_days)
    row.entered_by_id = actor.id
    row.entered_at = now
    db.session.flush()
    audit.record(actor, "notices.calendar_year", row, before=before,
                 after={"year": year,
                        "rest_days": [d.isoformat() for d in arrangement.rest_days],
                        "make_up_days": [d.isoformat() for d in arrangement.make_up_days]},
                 summary=str(year))
    return row, arrangement


def _holiday_note(arrangement, day: date) -> str:
    for holiday in arrangement.holidays:
        if holiday.first <= day <= holiday.last:
            return f"{arrangement.year} {holiday.name}"
        if day in holiday.make_up:
            return f"{arrangement.year} {holiday.name} 调休上班"
    return ""


def issue_by_hand(milestones: list, level: str, response_due: date, note: str,
                  actor: User) -> list[UrgeNotice]:
    """The office issues notices about overdue items: one notice per unit, in unit order.

    A yellow or red notice also claims the scan's key for the same step, so the scan does not
    send a second notice about an item the office has already chased.
    """
    from collections import defaultdict

    today = clock.local_today()
    if not milestones:
        raise NoticeError(_("Select at least one item."))
    for milestone in milestones:
        # Closed, or a report waiting for the office's review: the unit has nothing to be urged on.
        if milestone.state in UNIT_DONE_STATES or milestone.due_date >= today:
            raise NoticeError(_("Only overdue, unfinished items can be chased."))
    by_unit: dict[int, list] = defaultdict(list)
    for milestone in sorted(milestones, key=lambda m: (m.assignment.unit_id, m.due_date, m.id)):
        by_unit[milestone.assignment.unit_id].append(milestone)
    step = {NoticeLevel.YELLOW: "urge", NoticeLevel.RED: "supervise"}.get(level)
    issued = []
    for unit_id, items in by_unit.items():
        notice = issue_notice(unit_id, items, level, response_due, note=note, actor=actor,
                              source=NoticeSource.OFFICE)
        if step:
            for milestone in items:
                claimed = claim("milestone", milestone.id, step, milestone.due_date.isoformat(),
                                unit_id=unit_id)
                if claimed is not None:
                    claimed.urge_notice_id = notice.id
        issued.append(notice)
    db.session.flush()
    return issued
