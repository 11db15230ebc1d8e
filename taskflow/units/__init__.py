"""Units (departments, streets and towns, parks, task forces, districts) and unit groups."""

from flask import Blueprint

bp = Blueprint("units", __name__, url_prefix="/units")
