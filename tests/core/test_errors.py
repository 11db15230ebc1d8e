"""Refusals and edit conflicts: one base, one conflict error, one commit-or-refuse helper for
views, and one spelling of the optimistic lock."""

import pytest
from flask import get_flashed_messages
from flask_babel import force_locale
from flask_wtf import FlaskForm
from sqlalchemy import select, text
from wtforms import StringField

from taskflow.accounts.models import User
from taskflow.core.errors import CONFLICT_MESSAGE, EditConflict, Refusal, commit_or_refuse
from taskflow.extensions import db


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()


def _display_names() -> list[str]:
    return list(db.session.scalars(select(User.display_name).order_by(User.id)))


def test_a_refusal_rolls_back_and_shows_its_message_on_its_field(app, make_user):
    user = make_user(username="alice", display_name="Alice")
    db.session.commit()
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = NameForm()
        assert form.validate()
        with commit_or_refuse(form=form) as done:
            user.display_name = "changed"
            db.session.flush()
            raise Refusal("That name is taken.", field="name")
        assert not done and isinstance(done.error, Refusal)
        assert form.name.errors == ["That name is taken."]
        assert get_flashed_messages() == []  # shown once, next to the field
    assert _display_names() == ["Alice"]


def test_a_refusal_without_a_field_on_the_form_is_flashed(app):
    with app.test_request_context(method="POST"):
        with commit_or_refuse(category="warning") as done:
            raise Refusal("Not now.", field="no_such_field")
        assert not done
        assert get_flashed_messages(with_categories=True) == [("warning", "Not now.")]


def test_the_work_is_committed_once_when_nothing_refuses(app, make_user):
    user = make_user(username="bob", display_name="Bob")
    db.session.commit()
    with app.test_request_context(method="POST"):
        with commit_or_refuse() as done:
            user.display_name = "Robert"
        assert done and done.error is None
        assert get_flashed_messages() == []
    db.session.rollback()  # nothing pending: the change was committed
    assert _display_names() == ["Robert"]


def test_a_lost_optimistic_lock_is_refused_with_the_one_conflict_message(app, make_user):
    """Another writer bumped the row's version_id after it was read: the UPDATE matches no row,
    nothing is saved and the user is told to reload."""
    user = make_user(username="carol", display_name="Carol")
    db.session.commit()
    assert user.version_id == 1
    db.session.execute(text("UPDATE users SET version_id = version_id + 1 WHERE id = :id"),
                       {"id": user.id})
    with app.test_request_context(method="POST"), force_locale("zh_CN"):
        with commit_or_refuse() as done:
            user.display_name = "lost"
        assert not done and isinstance(done.error, EditConflict)
        assert get_flashed_messages(with_categories=True) == [
            ("danger", "其他人已修改此内容，请刷新页面后重试。")]
    assert _display_names() == ["Carol"]


def test_anything_but_a_refusal_propagates(app):
    with app.test_request_context(method="POST"):
        with pytest.raises(ZeroDivisionError):
            with commit_or_refuse():
                1 / 0


def test_every_area_refusal_is_a_refusal_and_every_conflict_the_one_error():
    from taskflow.accounts.operations import AccountError
    from taskflow.assignments.operations import ReportingError, StaleEdit
    from taskflow.enterprises.operations import DispatchError, EnterpriseError
    from taskflow.notices.operations import NoticeError
    from taskflow.scores.operations import ScoreError

    for refusal in (AccountError, ReportingError, DispatchError, EnterpriseError, NoticeError,
                    ScoreError, EditConflict):
        assert issubclass(refusal, Refusal)
    assert issubclass(StaleEdit, EditConflict)
    assert str(EditConflict()) == str(CONFLICT_MESSAGE)


def test_optimistic_locking_has_one_spelling(app):
    """Every locked table keeps its version in a `version_id` column, checked by the mapper."""
    locked = {m.class_.__name__: m.version_id_col.name
              for m in db.Model.registry.mappers if m.version_id_col is not None}
    assert {"Enterprise", "ClaimConflict", "DispatchConfirmation", "User", "Milestone",
            "UrgeNotice", "ScorePeriod", "Bulletin"} <= set(locked)
    assert set(locked.values()) == {"version_id"}
    for model in db.Model.registry.mappers:
        assert "version" not in model.columns or model.class_.__name__ == "ScoreRuleSet"
