"""Users, roles, sign-in and the admin pages."""

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__, cli_group="users")


def init_app(app: Flask) -> None:
    """Flask-Login set-up, session timeouts and the refused-access log."""
    from flask_babel import lazy_gettext as _l

    from taskflow.accounts import sessions
    from taskflow.accounts.models import User
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
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return user
