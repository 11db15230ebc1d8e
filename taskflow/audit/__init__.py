"""Audit trail: every state change, who made it, and what it was before and after."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")
