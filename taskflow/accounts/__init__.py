"""Users, roles, sign-in and the admin pages."""

from typing import Callable

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__, cli_group="users")

USER_FIGURES_EXTENSION = "taskflow_user_figures"
_LOADER_STATEMENT = "taskflow_user_loader_statement"


def register_user_figure(app: Flask, name: str, build: Callable) -> None:
    """Load a per-user figure with the signed-in user, into flask.g.<name>.

    `build()` returns a scalar subquery correlated to User (an inbox badge's count, say): the
    figure every page shows then costs no query of its own."""
    app.extensions.setdefault(USER_FIGURES_EXTENSION, {})[name] = build
    app.extensions.pop(_LOADER_STATEMENT, None)


def _loader_statement(app: Flask):
    """SELECT user, its unit, figures... WHERE id = :user_id, built once per app."""
    from sqlalchemy import bindparam, select
    from sqlalchemy.orm import joinedload

    from taskflow.accounts.models import User

    statement = app.extensions.get(_LOADER_STATEMENT)
    if statement is None:
        figures = app.extensions.get(USER_FIGURES_EXTENSION, {})
        # The unit too: every page's navigation bar names it.
        statement = (select(User, *(build().label(name) for name, build in figures.items()))
                     .options(joinedload(User.unit))
                     .where(User.id == bindparam("user_id")))
        app.extensions[_LOADER_STATEMENT] = statement
    return statement


def init_app(app: Flask) -> None:
    """Flask-Login set-up, session timeouts and the refused-access log."""
    from flask import current_app, g
    from flask_babel import lazy_gettext as _l

    from taskflow.accounts import sessions
    from taskflow.extensions import db, login_manager

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "warning"
    sessions.init_app(app)

    @login_manager.user_loader
    def load_user(user_key: str):
        # The key carries the session version: bumping it ends every older session.
        user_id, _, version = user_key.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        this_app = current_app._get_current_object()
        row = db.session.execute(_loader_statement(this_app),
                                 {"user_id": int(user_id)}).one_or_none()
        if row is None:
            return None
        user = row[0]
        if not user.active or user.session_version != int(version):
            return None
        for name in this_app.extensions.get(USER_FIGURES_EXTENSION, {}):
            setattr(g, name, row._mapping[name])
        return user

    @app.context_processor
    def inject_mobile():
        from taskflow.accounts.operations import shown_mobile

        return {"shown_mobile": shown_mobile}
