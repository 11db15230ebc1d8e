"""Security events in the database (sign-in, sign-out, refused access, ...), kept for the
retention the law asks for (taskflow/audit/retention.py) instead of only in stderr/journald.

Failed sign-ins are not repeated here: every attempt is already a row in login_attempts, and
both tables are pruned by the same job with the same retention.
"""

from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, request
from sqlalchemy import insert

from taskflow.core.clock import utcnow
from taskflow.extensions import db

log = logging.getLogger("taskflow.security")

KINDS = frozenset({
    "sign_in", "sign_in_failed", "sign_out", "access_refused", "password_changed",
    "password_reset",
})
# Second-factor kinds are open-ended (second_factor_enrolled, second_factor_failed, ...).
KIND_PREFIXES = ("second_factor_",)


def _check_kind(kind: str) -> str:
    if kind in KINDS or (kind.startswith(KIND_PREFIXES) and len(kind) <= 40):
        return kind
    raise ValueError(f"unknown security event kind {kind!r}")


def _values(kind: str, user, username: str | None, ip: str | None, detail: dict | None) -> dict:
    if ip is None and has_request_context():
        ip = request.remote_addr
    user_id = getattr(user, "id", None)
    if username is None and user is not None:
        username = getattr(user, "username", None)
    return {
        "occurred_at": utcnow(),
        "kind": _check_kind(kind),
        "username": username[:120] if username else None,
        "user_id": user_id if isinstance(user_id, int) else None,
        "ip": ip[:64] if ip else None,
        "detail": detail,
    }


def log_security_event(kind: str, *, user=None, username: str | None = None,
                       ip: str | None = None, detail: dict | None = None):
    """Add a security event to the current session (the caller commits); returns the row."""
    from taskflow.audit.models import SecurityEvent

    event = SecurityEvent(**_values(kind, user, username, ip, detail))
    db.session.add(event)
    return event


def log_security_event_now(kind: str, *, user=None, username: str | None = None,
                           ip: str | None = None, detail: dict | None = None) -> None:
    """Store a security event outside the request's unit of work, in its own short transaction.

    For places that are not part of a view's transaction: Flask-Login's signals (sent after the
    sign-in/sign-out view has committed) and after_request hooks. During a request the row is
    queued and written when the app context tears down, after Flask-SQLAlchemy has closed the
    request's session: a refused GET never becomes a write transaction on the request's
    session, nothing of a refused request's pending work is committed with it, and on SQLite
    the write never waits for the write lock held by the request's own connection (a POST holds
    it from its first query; a second connection in the same thread would wait for itself).
    Outside a request (commands, jobs) it is written at once.
    """
    values = _values(kind, user, username, ip, detail)
    if has_request_context():
        g.setdefault("_tf_security_events", []).append(values)
    else:
        _write(rows=[values])


def _write(rows: list[dict]) -> None:
    from taskflow.audit.models import SecurityEvent
    from taskflow.core.db import write_transaction

    try:
        with write_transaction(), db.engine.begin() as connection:
            connection.execute(insert(SecurityEvent), rows)
    except Exception:  # noqa: BLE001 - logging must not break the response
        log.exception("could not store %d security events: %s", len(rows),
                      rows)


def _write_queued(_exc=None) -> None:
    """teardown_appcontext, run after the request's session is removed: store queued events."""
    queued = g.pop("_tf_security_events", None)
    if queued:
        _write(queued)


def _signed_in(_sender=None, user=None, **_extra) -> None:
    log_security_event_now("sign_in", user=user)


def _signed_out(_sender=None, user=None, **_extra) -> None:
    if user is None or getattr(user, "id", None) is None:
        return
    log_security_event_now("sign_out", user=user)


def init_app(app: Flask) -> None:
    """Record Flask-Login's sign-in and sign-out signals; store queued events at teardown."""
    from flask_login import user_logged_in, user_logged_out

    user_logged_in.connect(_signed_in)  # module-level functions: connecting twice is a no-op
    user_logged_out.connect(_signed_out)
    # Teardown functions run last-registered first; this one must run after Flask-SQLAlchemy's
    # session removal (registered earlier, in db.init_app), so it goes to the front of the list.
    if _write_queued not in app.teardown_appcontext_funcs:
        app.teardown_appcontext_funcs.insert(0, _write_queued)
