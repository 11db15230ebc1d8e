"""The enterprise register, claim conflicts, Excel import and the monthly dispatch (月调度)."""

from flask import Blueprint, Flask

bp = Blueprint("enterprises", __name__, url_prefix="/enterprises", cli_group="enterprises")
dispatch_bp = Blueprint("dispatch", __name__, url_prefix="/dispatch", cli_group="dispatch")


def init_app(app: Flask) -> None:
    """Register the dispatch blueprint (its routes and commands live in views.py and cli.py)."""
    app.register_blueprint(dispatch_bp)
