"""States, roles and kinds are stored with a CHECK constraint: the database refuses a value
outside the column's enum, whatever code (or person with a SQL prompt) writes it."""

import pytest
from sqlalchemy import CheckConstraint, update
from sqlalchemy.exc import IntegrityError

from taskflow.accounts.models import Role, User
from taskflow.assignments.models import Milestone, MilestoneState, StatusUpdate
from taskflow.core.db import enum_check
from taskflow.extensions import db
from taskflow.units.models import Unit


def _refused(statement) -> None:
    with pytest.raises(IntegrityError) as refused:
        db.session.execute(statement)
        db.session.flush()
    db.session.rollback()
    assert "ck_" in str(refused.value.orig) or "CHECK" in str(refused.value.orig)


def test_an_invalid_milestone_state_is_refused_by_the_database(make_milestone):
    milestone = make_milestone()
    _refused(update(Milestone).where(Milestone.id == milestone.id).values(state="done"))
    # A valid state still goes through, and the refused one left nothing behind.
    db.session.execute(update(Milestone).where(Milestone.id == milestone.id)
                       .values(state=MilestoneState.CLOSED, version_id=Milestone.version_id + 1))
    db.session.commit()
    assert db.session.get(Milestone, milestone.id).state == "closed"


def test_an_invalid_role_or_unit_kind_is_refused_by_the_database(make_user, make_unit):
    user = make_user(role=Role.OFFICE)
    unit = make_unit()
    _refused(update(User).where(User.id == user.id).values(role="superuser"))
    _refused(update(Unit).where(Unit.id == unit.id).values(kind="village"))
    _refused(update(Unit).where(Unit.id == unit.id).values(peer_group="street"))
    db.session.expire_all()
    assert db.session.get(User, user.id).role == "office"


def test_an_optional_enumerated_column_accepts_null_but_not_a_stray_code(make_milestone,
                                                                           make_user):
    from taskflow.assignments.models import ReturnReason

    author = make_user(role="office")
    update_row = StatusUpdate(milestone_id=make_milestone().id, author_id=author.id, progress=50)
    db.session.add(update_row)
    db.session.commit()
    assert update_row.reason_code is None
    _refused(update(StatusUpdate).where(StatusUpdate.id == update_row.id)
             .values(reason_code="rude"))
    db.session.execute(update(StatusUpdate).where(StatusUpdate.id == update_row.id)
                       .values(reason_code=ReturnReason.NO_EVIDENCE,
                               version_id=StatusUpdate.version_id + 1))
    db.session.commit()


def test_every_state_column_of_the_models_carries_its_check(app):
    checks = {(table.name, constraint.name) for table in db.metadata.tables.values()
              for constraint in table.constraints if isinstance(constraint, CheckConstraint)}
    for name in ("ck_milestones_state", "ck_status_updates_state", "ck_users_role",
                 "ck_assignments_role", "ck_units_kind", "ck_units_peer_group", "ck_plans_level",
                 "ck_score_periods_state", "ck_dispatch_periods_state", "ck_urge_notices_level",
                 "ck_outbox_messages_state", "ck_enterprises_status", "ck_claim_conflicts_state"):
        assert name in {constraint for _table, constraint in checks}, name


def test_enum_check_refuses_values_it_cannot_quote():
    assert str(enum_check("state", MilestoneState).sqltext).startswith("state IN ('pending', ")
    with pytest.raises(ValueError):
        enum_check("note", ["it's"])
    with pytest.raises(ValueError):
        enum_check("note", [])
