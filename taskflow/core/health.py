"""/readyz: the database answers and its schema is at the migration head (for deploys and probes).

/healthz (core/views.py) says whether the process and its database are alive; /readyz also says
whether `flask db upgrade` has been run for this code, and answers 503 until it has.
"""

from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app, jsonify
from sqlalchemy import inspect, text

from taskflow.extensions import db


@lru_cache(maxsize=4)
def migration_heads(directory: str) -> tuple[str, ...]:
    """The head revision(s) of the migration scripts (read once per process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def migration_status() -> dict:
    """{"revision": the database's, "head": the code's, "migrations": current|behind|missing}."""
    directory = str(Path(current_app.extensions["migrate"].directory))
    heads = migration_heads(directory)
    head = heads[0] if len(heads) == 1 else ",".join(heads)
    revision = None
    if inspect(db.engine).has_table("alembic_version"):
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    state = "missing" if revision is None else ("current" if revision in heads else "behind")
    return {"revision": revision, "head": head, "migrations": state}


def ready():
    """200 when the database is reachable and migrated to the code's head, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
        status = migration_status()
    except Exception:  # noqa: BLE001 - any database failure means not ready
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    ok = status["migrations"] == "current"
    return jsonify(status="ok" if ok else "error", database="ok", **status), 200 if ok else 503


def init_app(app: Flask) -> None:
    """Add the /readyz route."""
    app.add_url_rule("/readyz", endpoint="readyz", view_func=ready)
