"""Supervision and incentive scores: rules as data, roll-up, rankings, five-colour map, reports, cockpit."""

from flask import Blueprint

bp = Blueprint("scores", __name__, cli_group="scores")
