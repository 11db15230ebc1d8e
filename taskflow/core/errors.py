"""Refusals shown to users, the one edit-conflict error, and the views' commit-or-refuse helper.

Operations refuse before changing anything by raising a `Refusal` (or an area subclass of it)
with a translated message; views run them through `commit_or_refuse`, which commits once and,
on a refusal or a lost optimistic lock, rolls back and flashes the message instead.
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from taskflow.extensions import db

# The one message for a lost optimistic lock (the mapper's version_id_col found a newer row).
CONFLICT_MESSAGE = _l("Someone else changed this in the meantime. Reload the page and try again.")


class Refusal(Exception):
    """A request refused before anything changed: `message` (translated) is for the user,
    `field` names the form field it belongs to, when there is one."""

    def __init__(self, message: Any, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class EditConflict(Refusal):
    """The object changed since the form was made from it (optimistic lock lost)."""

    def __init__(self, message: Any = None, *, field: str | None = None):
        super().__init__(CONFLICT_MESSAGE if message is None else message, field=field)


class Outcome:
    """What `commit_or_refuse` did: true when the work was committed; else `error` says why."""

    def __init__(self) -> None:
        self.ok = False
        self.error: Refusal | None = None

    def __bool__(self) -> bool:
        return self.ok


class commit_or_refuse:  # noqa: N801 - used as a function: `with commit_or_refuse() as done:`
    """Run the block, then commit once; on a Refusal or a lost optimistic lock roll back, flash
    the message (on `form`'s field when the refusal names one) and carry on after the block.

        with commit_or_refuse(form=form) as done:
            operations.do_it(...)
        if not done:
            return render_template(...), 409

    `field` is where a refusal that names no field of its own goes on `form`; `conflict`
    replaces the conflict message where the view can say more precisely what happened;
    `category` is the flash category.
    """

    def __init__(self, *, form=None, field: str | None = None, conflict: Any = None,
                 category: str = "danger"):
        self.form = form
        self.field = field
        self.conflict = conflict
        self.category = category
        self.outcome = Outcome()

    def __enter__(self) -> Outcome:
        return self.outcome

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                db.session.commit()
            except StaleDataError:
                exc = EditConflict(self.conflict)
            else:
                self.outcome.ok = True
                return False
        elif issubclass(exc_type, StaleDataError):
            exc = EditConflict(self.conflict)
        elif not issubclass(exc_type, Refusal):
            return False  # anything else is a bug or an outage: let it propagate
        db.session.rollback()
        self.outcome.error = exc
        self._show(exc)
        return True

    def _show(self, refusal: Refusal) -> None:
        for name in (refusal.field, self.field):
            field = getattr(self.form, name, None) if name and self.form is not None else None
            if field is not None and isinstance(field.errors, list):
                # The message goes next to the field it is about; the page shows the form again.
                field.errors.append(refusal.message)
                return
        flash(refusal.message, self.category)
