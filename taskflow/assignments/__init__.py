"""Assignments of key tasks to units, their milestones, status updates, evidence and reviews."""

from flask import Blueprint

bp = Blueprint("assignments", __name__)
