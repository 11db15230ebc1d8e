"""The administrator's security page: the state of the measures an assessor asks about
(backups and their verification, the field-encryption key, ...), each in its own section."""

from flask import Blueprint

bp = Blueprint("security", __name__, url_prefix="/admin/security")
