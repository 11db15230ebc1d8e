"""Every write of the scores area: rule versions, recompute, adjust, lock, publish, correct,
recognitions and bulletins. Functions flush and audit; the caller (view, command, job) commits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified

from taskflow.core import audit, clock
from taskflow.core.audit import snapshot
from taskflow.core.db import ensure_transaction, next_in_series
from taskflow.core.errors import EditConflict, Refusal
from taskflow.extensions import db
from taskflow.scores import components, queries
from taskflow.scores.models import (
    COMPONENTS,
    Bulletin,
    BulletinSection,
    BulletinState,
    ConfirmationAction,
    ConfirmationState,
    Recognition,
    ScoreAdjustment,
    ScoreCard,
    ScoreConfirmation,
    ScoreItem,
    ScorePeriod,
    ScorePeriodState,
    ScoreRuleSet,
)
from taskflow.scores.rules import (
    DEFAULT_RULE_NAME,
    default_parameters,
    effective_parameters,
    grade_for,
    parse_period_key,
    points,
    validate_parameters,
)

MAX_RECOGNITION_POINTS = Decimal("10")
BULLETIN_NUMBER_LOCK_KEY = 7_310_020  # pg_advisory_xact_lock key of the bulletins' 文号 series
PERIOD_FIELDS = ("key", "revision", "state", "rule_set_id", "as_of")


class ScoreError(Refusal):
    """A refused score operation, with a message for the user."""


def _check_version(obj, expected: int | None) -> None:
    if expected is not None and obj.version_id != expected:
        raise EditConflict()


# ---------------------------------------------------------------- rule sets


def ensure_default_rules(actor=None) -> ScoreRuleSet:
    """The first rule set (the plan's 督查激励考核 defaults), created when there is none."""
    existing = db.session.scalar(select(ScoreRuleSet).order_by(ScoreRuleSet.version).limit(1))
    if existing is not None:
        return existing
    return create_rule_set(actor, name=DEFAULT_RULE_NAME, effective_from=date(2023, 1, 1),
                           parameters=default_parameters(), note="")


def create_rule_set(actor, *, name: str, effective_from: date, parameters: dict,
                    note: str = "") -> ScoreRuleSet:
    """Add a new version of the rules (older versions stay, for the periods scored with them)."""
    errors = validate_parameters(parameters)
    if errors:
        raise ScoreError(_("The rule parameters are not valid: %(errors)s", errors="; ".join(errors)))
    if not name.strip():
        raise ScoreError(_("Give the rule set a name."))
    version = (db.session.scalar(select(func.max(ScoreRuleSet.version))) or 0) + 1
    previous = db.session.scalar(select(ScoreRuleSet).where(ScoreRuleSet.version == version - 1))
    rule_set = ScoreRuleSet(version=version, name=name.strip(), effective_from=effective_from,
                            parameters=parameters, note=note.strip(),
                            created_by_id=getattr(actor, "id", None))
    db.session.add(rule_set)
    db.session.flush()
    audit.record(actor, "scores.rules_create", rule_set,
                 before=snapshot(previous, "version", "name", "effective_from", "parameters")
                 if previous else None,
                 after=snapshot(rule_set, "version", "name", "effective_from", "parameters"),
                 summary=f"v{version} {rule_set.name}")
    return rule_set


# ---------------------------------------------------------------- periods and recompute


def get_or_create_period(plan_id: int, key: str) -> ScorePeriod:
    """The period's latest revision, created (revision 1, draft) when it does not exist."""
    period = queries.latest_period(plan_id, key)
    if period is not None:
        return period
    parsed = parse_period_key(key)
    period = ScorePeriod(plan_id=plan_id, key=parsed.key, kind=parsed.kind,
                         starts_on=parsed.starts_on, ends_on=parsed.ends_on, revision=1,
                         state=ScorePeriodState.DRAFT)
    db.session.add(period)
    db.session.flush()
    return period


def recompute(plan_id: int, key: str, actor=None, *, today: date | None = None,
              rule_version: int | None = None) -> ScorePeriod:
    """Recompute a draft period's scores from the domain tables; refuse a locked or published one.

    Deterministic and idempotent: the period's items and cards are replaced by rows computed from
    the same facts in the same order, so two runs on the same data give identical scores.
    """
    key = parse_period_key(key).key
    today = today or clock.local_today()
    period = get_or_create_period(plan_id, key)
    if period.state == ScorePeriodState.PUBLISHED:
        raise ScoreError(_("Period %(key)s is published and never changes; make a correction "
                           "(a new revision) instead.", key=key))
    if period.state == ScorePeriodState.LOCKED:
        raise ScoreError(_("Period %(key)s is locked for review; unlock it first.", key=key))
    if rule_version is not None:
        rule_set = db.session.scalar(select(ScoreRuleSet).where(ScoreRuleSet.version == rule_version))
        if rule_set is None:
            raise ScoreError(_("There is no rule set version %(v)s.", v=rule_version))
    else:
        ensure_default_rules(actor)
        rule_set = queries.rule_set_for(period.ends_on)
    before = snapshot(period, *PERIOD_FIELDS)
    parsed = parse_period_key(key)
    params = effective_parameters(rule_set.parameters)
    ctx = components.Context(plan_id=plan_id, period=parsed, today=today, params=params)

    db.session.execute(delete(ScoreItem).where(ScoreItem.period_id == period.id))
    db.session.execute(delete(ScoreCard).where(ScoreCard.period_id == period.id))
    units = db.session.execute(components.scored_units_query(plan_id)).all()
    items, not_rated = components.all_items(ctx, [unit_id for unit_id, _group in units])
    if items:
        db.session.execute(insert(ScoreItem), [dict(item, period_id=period.id) for item in items])

    # Component sums per unit, in SQL over the items just written.
    sums: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for unit_id, component, total in db.session.execute(
        select(ScoreItem.unit_id, ScoreItem.component, func.sum(ScoreItem.points))
        .where(ScoreItem.period_id == period.id)
        .group_by(ScoreItem.unit_id, ScoreItem.component)
    ):
        sums[unit_id][component] = Decimal(str(total))
    adjustments = queries.adjustment_sums(period.id)
    limits = components.component_limits(params)
    base = points(params["base"])
    cards = []
    for unit_id, peer_group in units:
        if unit_id in not_rated:
            continue  # nothing applies to it this period: no free score, no rank
        row = {"period_id": period.id, "unit_id": unit_id, "peer_group": peer_group, "base": base}
        computed = base
        for component in COMPONENTS:
            value = sums.get(unit_id, {}).get(component, Decimal("0"))
            floor, cap = limits[component]
            if floor is not None:
                value = max(value, points(floor))
            if cap is not None:
                value = min(value, points(cap))
            row[component] = points(value)
            computed += row[component]
        row["computed_total"] = points(max(computed, Decimal("0")))
        row["adjustment"] = adjustments.get(unit_id, Decimal("0"))
        row["total"] = points(max(row["computed_total"] + row["adjustment"], Decimal("0")))
        row["grade"] = grade_for(row["total"], params["grades"])
        cards.append(row)
    previous = queries.previous_ranks(plan_id, key)
    assign_ranks(cards)
    for row in cards:
        row["previous_rank"] = previous.get(row["unit_id"])
    if cards:
        db.session.execute(insert(ScoreCard), cards)
    period.rule_set = rule_set
    period.as_of = ctx.as_of
    period.computed_at = clock.utcnow()
    # Always a new version of the period, even when nothing on its row changed: the cards may
    # have, so a form or a confirmation request made on the earlier scores no longer counts.
    flag_modified(period, "computed_at")
    db.session.flush()
    audit.record(actor, "scores.recompute", period, before=before,
                 after=snapshot(period, *PERIOD_FIELDS),
                 summary=f"{key} r{period.revision}: {len(cards)} units rated, "
                         f"{len(not_rated)} not rated, {len(items)} items, rules v{rule_set.version}")
    return period


def assign_ranks(cards: list[dict]) -> None:
    """Rank within each peer group by total, highest first; equal totals share a rank (1, 2, 2, 4)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in cards:
        groups[row["peer_group"]].append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: (-r["total"], r["unit_id"]))
        previous_total, previous_rank = None, 0
        for position, row in enumerate(rows, start=1):
            if row["total"] != previous_total:
                previous_rank, previous_total = position, row["total"]
            row["rank"] = previous_rank
            row["group_size"] = len(rows)


def rerank(period: ScorePeriod) -> None:
    """Recompute the ranks of a period from its cards' totals (one read, one bulk update)."""
    rows = [
        {"id": cid, "unit_id": unit_id, "peer_group": group, "total": total}
        for cid, unit_id, group, total in db.session.execute(
            select(ScoreCard.id, ScoreCard.unit_id, ScoreCard.peer_group, ScoreCard.total)
            .where(ScoreCard.period_id == period.id)
        )
    ]
    assign_ranks(rows)
    if rows:
        db.session.execute(update(ScoreCard), [
            {"id": r["id"], "rank": r["rank"], "group_size": r["group_size"]} for r in rows
        ])


def _require_draft(period: ScorePeriod) -> None:
    if period.state != ScorePeriodState.DRAFT:
        raise ScoreError(_("Only a draft period can be changed; this one is %(state)s.",
                           state=_state_label(period.state)))


def _state_label(state: str) -> str:
    return {ScorePeriodState.DRAFT: _("draft"), ScorePeriodState.LOCKED: _("locked"),
            ScorePeriodState.PUBLISHED: _("published")}.get(state, state)


def adjust(period: ScorePeriod, card: ScoreCard, *, points_delta, reason: str, actor,
           expected_version: int | None = None) -> ScoreAdjustment:
    """Add points to (or take points from) one unit's score, with a mandatory reason."""
    _check_version(period, expected_version)
    _require_draft(period)
    reason = (reason or "").strip()
    if not reason:
        raise ScoreError(_("Give the reason for the adjustment."))
    delta = points(points_delta)
    params = effective_parameters(period.rule_set.parameters if period.rule_set else None)
    most = points(params["adjustment"]["max"])
    if delta == 0 or abs(delta) > most:
        raise ScoreError(_("An adjustment is between −%(max)s and %(max)s points, and not zero.",
                           max=most))
    before = snapshot(card, "computed_total", "adjustment", "total", "grade", "rank")
    adjustment = ScoreAdjustment(period_id=period.id, unit_id=card.unit_id, points=delta,
                                 reason=reason, created_by_id=getattr(actor, "id", None))
    db.session.add(adjustment)
    card.adjustment = points(card.adjustment + delta)
    card.total = points(max(card.computed_total + card.adjustment, Decimal("0")))
    card.grade = grade_for(card.total, params["grades"])
    db.session.flush()
    rerank(period)
    db.session.refresh(card)
    audit.record(actor, "scores.adjust", card, before=before,
                 after=dict(snapshot(card, "computed_total", "adjustment", "total", "grade", "rank"),
                            delta=str(delta), reason=reason),
                 summary=f"{period.key} r{period.revision} unit {card.unit_id}: {delta:+} ({reason[:200]})")
    return adjustment


def _has_cards(period: ScorePeriod) -> bool:
    return db.session.scalar(select(func.count()).select_from(ScoreCard)
                             .where(ScoreCard.period_id == period.id)) > 0


def _check_lock(period: ScorePeriod) -> None:
    _require_draft(period)
    if not _has_cards(period):
        raise ScoreError(_("Compute the period's scores before locking it."))


def lock(period: ScorePeriod, actor, *, expected_version: int | None = None,
         audit_extra: dict | None = None) -> ScorePeriod:
    """Freeze a draft period for review before publication."""
    _check_version(period, expected_version)
    _check_lock(period)
    return _set_state(period, ScorePeriodState.LOCKED, actor, "scores.lock", audit_extra,
                      locked_at=clock.utcnow(), locked_by_id=getattr(actor, "id", None))


def unlock(period: ScorePeriod, actor, *, expected_version: int | None = None) -> ScorePeriod:
    """Send a locked period back to draft (a published one never goes back)."""
    _check_version(period, expected_version)
    if period.state != ScorePeriodState.LOCKED:
        raise ScoreError(_("Only a locked period can be unlocked."))
    return _set_state(period, ScorePeriodState.DRAFT, actor, "scores.unlock", None,
                      locked_at=None, locked_by_id=None)


def _check_publish(period: ScorePeriod) -> None:
    if period.state != ScorePeriodState.LOCKED:
        raise ScoreError(_("Lock the period before publishing it."))


def publish(period: ScorePeriod, actor, *, expected_version: int | None = None,
            audit_extra: dict | None = None) -> ScorePeriod:
    """Publish a locked period: from now on it never changes."""
    _check_version(period, expected_version)
    _check_publish(period)
    return _set_state(period, ScorePeriodState.PUBLISHED, actor, "scores.publish", audit_extra,
                      published_at=clock.utcnow(), published_by_id=getattr(actor, "id", None))


def _set_state(period: ScorePeriod, state: str, actor, action: str, audit_extra: dict | None,
               **fields) -> ScorePeriod:
    before = snapshot(period, *PERIOD_FIELDS)
    period.state = state
    for name, value in fields.items():
        setattr(period, name, value)
    db.session.flush()
    audit.record(actor, action, period, before=before,
                 after=dict(snapshot(period, *PERIOD_FIELDS), **(audit_extra or {})),
                 summary=f"{period.key} r{period.revision}")
    return period


def correct(period: ScorePeriod, actor, *, reason: str, today: date | None = None,
            expected_version: int | None = None) -> ScorePeriod:
    """A correction of a published period: a new draft revision, recomputed; the old one stays."""
    _check_version(period, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise ScoreError(_("Give the reason for the correction."))
    latest = queries.latest_period(period.plan_id, period.key)
    if latest.id != period.id or period.state != ScorePeriodState.PUBLISHED:
        raise ScoreError(_("Only the latest revision of a published period can be corrected."))
    revision = ScorePeriod(plan_id=period.plan_id, key=period.key, kind=period.kind,
                           starts_on=period.starts_on, ends_on=period.ends_on,
                           revision=period.revision + 1, state=ScorePeriodState.DRAFT,
                           supersedes_id=period.id, correction_reason=reason)
    db.session.add(revision)
    db.session.flush()
    # The supervisors' adjustments were deliberate: they carry over (and can be offset).
    carried = db.session.execute(
        select(ScoreAdjustment.unit_id, ScoreAdjustment.points, ScoreAdjustment.reason,
               ScoreAdjustment.created_by_id, ScoreAdjustment.created_at)
        .where(ScoreAdjustment.period_id == period.id).order_by(ScoreAdjustment.id)
    ).all()
    if carried:
        db.session.execute(insert(ScoreAdjustment), [
            {"period_id": revision.id, "unit_id": u, "points": p, "reason": r,
             "created_by_id": c, "created_at": t} for u, p, r, c, t in carried
        ])
    audit.record(actor, "scores.correct", revision,
                 before=snapshot(period, *PERIOD_FIELDS), after=snapshot(revision, *PERIOD_FIELDS),
                 summary=f"{period.key} r{revision.revision}: {reason[:300]}")
    _supersede_bulletins(period, revision, actor)
    return recompute(period.plan_id, period.key, actor, today=today,
                     rule_version=period.rule_set.version if period.rule_set else None)


def _supersede_bulletins(old: ScorePeriod, revision: ScorePeriod, actor) -> None:
    """Bulletins built on an earlier revision of the period are marked superseded (audited)."""
    earlier = select(ScorePeriod.id).where(ScorePeriod.plan_id == old.plan_id,
                                           ScorePeriod.key == old.key,
                                           ScorePeriod.revision < revision.revision)
    stale = db.session.scalars(select(Bulletin).where(Bulletin.period_id.in_(earlier),
                                                      Bulletin.superseded_at.is_(None))
                               .order_by(Bulletin.id)).all()
    when = clock.utcnow()
    for bulletin in stale:
        bulletin.superseded_at = when
        bulletin.superseded_by_id = revision.id
        db.session.flush()
        audit.record(actor, "scores.bulletin_superseded", bulletin,
                     before={"superseded": False},
                     after={"superseded": True, "by_revision": revision.revision,
                            "reason": revision.correction_reason},
                     summary=f"{bulletin.title}: {old.key} r{revision.revision}")


# ---------------------------------------------------------------- confirmations (governance)

ACTIONS = tuple(ConfirmationAction)


@dataclass
class Outcome:
    """What a confirmed lock or publish did: done, asked for a second person, or refused."""

    done: bool
    waiting: bool = False
    refused: bool = False


def second_person_required(period: ScorePeriod) -> bool:
    """The period's rules ask for a second person (governance.second_person, default off)."""
    params = effective_parameters(period.rule_set.parameters if period.rule_set else None)
    return bool(params["governance"]["second_person"])


def _target(action: str, obj) -> dict:
    return {"bulletin_id": obj.id} if action == "bulletin_publish" else {"period_id": obj.id}


def pending_confirmation(action: str, obj) -> ScoreConfirmation | None:
    """The open request for `action` on the object, if it still matches the object's version."""
    found = db.session.scalar(
        select(ScoreConfirmation).filter_by(action=action, state=ConfirmationState.PENDING,
                                            **_target(action, obj))
        .order_by(ScoreConfirmation.id.desc()).limit(1))
    if found is not None and found.object_version != obj.version_id:
        return None
    return found


def _precheck(action: str, obj) -> None:
    if action == "lock":
        _check_lock(obj)
    elif action == "publish":
        _check_publish(obj)
    else:
        _check_publish_bulletin(obj)


def _perform(action: str, obj, actor, extra: dict) -> None:
    if action == "lock":
        lock(obj, actor, audit_extra=extra)
    elif action == "publish":
        publish(obj, actor, audit_extra=extra)
    else:
        publish_bulletin(obj, actor, audit_extra=extra)


def confirm_action(action: str, obj, actor, *, expected_version: int | None = None) -> Outcome:
    """A lock or publish confirmed by `actor` on the confirmation page.

    Without the second-person setting it takes place at once. With it, the first confirmation
    records a request (audited) and the action waits; it takes place when a different user
    confirms it (both recorded in the audit event). The same person confirming twice is refused
    (audited too). A request made on an older version of the object (the scores were recomputed
    or the bulletin edited since) is cancelled and the confirmation counts as a new request.
    """
    if action not in ACTIONS:
        raise ValueError(action)
    _check_version(obj, expected_version)
    _precheck(action, obj)
    period = obj.period if action == "bulletin_publish" else obj
    if not second_person_required(period):
        _perform(action, obj, actor, {})
        return Outcome(done=True)
    for stale in db.session.scalars(
            select(ScoreConfirmation).filter_by(action=action, state=ConfirmationState.PENDING,
                                                **_target(action, obj))
            .where(ScoreConfirmation.object_version != obj.version_id)):
        stale.state = ConfirmationState.CANCELLED
        audit.record(actor, "scores.confirmation_cancel", stale,
                     after={"action": action, "reason": "changed since requested"},
                     summary=f"{action} {obj.id}")
    pending = pending_confirmation(action, obj)
    actor_id = getattr(actor, "id", None)
    if pending is None:
        request = ScoreConfirmation(action=action, object_version=obj.version_id,
                                    requested_by_id=actor_id, **_target(action, obj))
        db.session.add(request)
        db.session.flush()
        audit.record(actor, "scores.confirmation_request", request,
                     after={"action": action, **_target(action, obj)},
                     summary=f"{action} {obj.id}: waits for a second person")
        return Outcome(done=False, waiting=True)
    if actor_id is None or pending.requested_by_id == actor_id:
        audit.record(actor, "scores.confirmation_refused", pending,
                     after={"action": action, "reason": "same person"},
                     summary=f"{action} {obj.id}: the second confirmation must be by another person")
        return Outcome(done=False, refused=True)
    pending.state = ConfirmationState.DONE
    pending.confirmed_by_id = actor_id
    pending.confirmed_at = clock.utcnow()
    db.session.flush()
    _perform(action, obj, actor, {"requested_by_id": pending.requested_by_id,
                                  "confirmed_by_id": actor_id})
    return Outcome(done=True)


# ---------------------------------------------------------------- recognitions


def add_recognition(actor, *, unit, awarded_on: date, title: str, points_value,
                    evidence: str) -> Recognition:
    """A commendation with its evidence; it earns incentive points in the period it falls in."""
    title, evidence = (title or "").strip(), (evidence or "").strip()
    if not title or not evidence:
        raise ScoreError(_("A recognition needs a title and its evidence."))
    value = points(points_value)
    if value <= 0 or value > MAX_RECOGNITION_POINTS:
        raise ScoreError(_("Recognition points are more than 0 and at most %(max)s.",
                           max=MAX_RECOGNITION_POINTS))
    recognition = Recognition(unit_id=unit.id, awarded_on=awarded_on, title=title, points=value,
                              evidence=evidence, created_by_id=getattr(actor, "id", None))
    db.session.add(recognition)
    db.session.flush()
    audit.record(actor, "scores.recognition_add", recognition,
                 after=snapshot(recognition, "unit_id", "awarded_on", "title", "points", "evidence"),
                 summary=f"{unit.name}: {title}")
    return recognition


# ---------------------------------------------------------------- bulletins


def _check_bulletin_period(period: ScorePeriod) -> None:
    """A bulletin stands on the published, latest revision of a quarter's scores."""
    if period.state != ScorePeriodState.PUBLISHED:
        raise ScoreError(_("Publish the quarter's scores before drafting or publishing its bulletin."))
    latest = queries.latest_period(period.plan_id, period.key)
    if latest is not None and latest.id != period.id:
        raise ScoreError(_("These scores have been corrected (revision %(n)s); use the corrected "
                           "revision once it is published.", n=latest.revision))


def create_bulletin(period: ScorePeriod, actor, *, today: date | None = None) -> Bulletin:
    """Draft the quarterly bulletin from a published quarter (its latest revision)."""
    from taskflow.scores import reports

    if period.kind != "quarter":
        raise ScoreError(_("The bulletin is drafted from a quarter."))
    _check_bulletin_period(period)
    data = reports.bulletin_data(period, today=today or clock.local_today())
    bulletin = Bulletin(period_id=period.id, title=data["title"], state=BulletinState.DRAFT,
                        data=data, created_by_id=getattr(actor, "id", None))
    for position, (key, title, body) in enumerate(reports.draft_sections(data), start=1):
        bulletin.sections.append(BulletinSection(key=key, position=position, title=title, body=body))
    db.session.add(bulletin)
    db.session.flush()
    audit.record(actor, "scores.bulletin_create", bulletin,
                 after={"period": period.key, "revision": period.revision, "title": bulletin.title},
                 summary=bulletin.title)
    return bulletin


def update_bulletin(bulletin: Bulletin, actor, *, title: str, sections: dict[str, str],
                    expected_version: int | None = None) -> Bulletin:
    """The office edits a draft bulletin's title and text sections."""
    _check_version(bulletin, expected_version)
    if bulletin.state != BulletinState.DRAFT:
        raise ScoreError(_("A published bulletin is frozen."))
    if bulletin.is_superseded:
        raise ScoreError(_("This bulletin is superseded: the scores it was built on were corrected."))
    if not (title or "").strip():
        raise ScoreError(_("Give the bulletin a title."))
    before = {"title": bulletin.title, **{s.key: s.body for s in bulletin.sections}}
    bulletin.title = title.strip()
    # Section edits change the bulletin too: bump its version so concurrent edits are caught.
    flag_modified(bulletin, "title")
    for section in bulletin.sections:
        if section.key in sections:
            section.body = sections[section.key].replace("\r\n", "\n").strip()
    db.session.flush()
    after = {"title": bulletin.title, **{s.key: s.body for s in bulletin.sections}}
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    audit.record(actor, "scores.bulletin_edit", bulletin,
                 before={k: before.get(k) for k in changed}, after=changed, summary=bulletin.title)
    return bulletin


def _check_publish_bulletin(bulletin: Bulletin) -> None:
    if bulletin.state != BulletinState.DRAFT:
        raise ScoreError(_("This bulletin is published already."))
    if bulletin.is_superseded:
        raise ScoreError(_("This bulletin is superseded: the scores it was built on were corrected."))
    _check_bulletin_period(bulletin.period)


def publish_bulletin(bulletin: Bulletin, actor, *, expected_version: int | None = None,
                     audit_extra: dict | None = None) -> Bulletin:
    """Freeze the bulletin; the .docx is generated from the frozen text from now on."""
    _check_version(bulletin, expected_version)
    _check_publish_bulletin(bulletin)
    _assign_bulletin_number(bulletin, clock.local_today().year, state=BulletinState.PUBLISHED,
                            published_at=clock.utcnow(), published_by_id=getattr(actor, "id", None))
    audit.record(actor, "scores.bulletin_publish", bulletin,
                 before={"state": BulletinState.DRAFT},
                 after={"state": BulletinState.PUBLISHED, "number": bulletin.number,
                        **(audit_extra or {})},
                 summary=f"{bulletin.number} {bulletin.title}")
    return bulletin


def format_bulletin_number(prefix: str, year: int, sequence: int) -> str:
    """綦双倍增办〔2026〕3号: the series' prefix, the year in 〔〕, the sequence (no zero)."""
    return f"{prefix}〔{year}〕{sequence}号"


def _next_bulletin_sequence(year: int) -> int:
    return next_in_series(db.session, Bulletin.number_sequence, Bulletin.number_year == year,
                          lock_key=BULLETIN_NUMBER_LOCK_KEY)


def _assign_bulletin_number(bulletin: Bulletin, year: int, **fields) -> None:
    """Give the bulletin the next number of the year's series, set `fields`, and flush it.

    PostgreSQL serialises publications with an advisory lock; SQLite holds its write lock from the
    first write (BEGIN IMMEDIATE) to the commit. Should two writers still meet, the unique
    (year, sequence) refuses the second, which takes the next number in a SAVEPOINT retry.
    """
    prefix = current_app.config["BULLETIN_NUMBER_PREFIX"]
    ensure_transaction(db.session)
    for _attempt in range(5):
        sequence = _next_bulletin_sequence(year)
        # Set again on each attempt: a rolled-back SAVEPOINT expires what it flushed.
        for name, value in fields.items():
            setattr(bulletin, name, value)
        bulletin.number_year, bulletin.number_sequence = year, sequence
        bulletin.number = format_bulletin_number(prefix, year, sequence)
        try:
            with db.session.begin_nested():
                db.session.flush()
            return
        except IntegrityError:
            continue
    raise ScoreError(_("No bulletin number could be allocated; please try again."))
