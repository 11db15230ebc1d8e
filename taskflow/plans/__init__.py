"""Plans, their sections, key tasks, goals, indicators and targets; the plan importer."""

from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/plans", cli_group="plan")
