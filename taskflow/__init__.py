"""TaskFlow: the task-accountability system for Qijiang District's double-doubling plan."""

import importlib
import logging

from flask import Flask

from config import Config, config_from_env

# Business areas in registration order; each is a package with a `bp` blueprint.
AREAS = (
    "core",
    "accounts",
    "units",
    "plans",
    "assignments",
    "audit",
    "enterprises",
    "notices",
    "scores",
    "measures",
    "security",
)


def _area_modules():
    # Every area is part of the app: one that fails to import stops the app.
    for area in AREAS:
        yield area, importlib.import_module(f"taskflow.{area}")


def import_models() -> None:
    """Import every area's models so SQLAlchemy's metadata is complete."""
    for area, _module in _area_modules():
        try:
            importlib.import_module(f"taskflow.{area}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"taskflow.{area}.models":
                raise


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    """Build the Flask app from a settings class (default: from TASKFLOW_ENV)."""
    from config import BASE_DIR
    from taskflow.core import i18n, input_guard, security
    from taskflow.extensions import babel, csrf, db, login_manager, migrate

    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "taskflow" / "static"),
        static_url_path="/static",
    )
    input_guard.register_converters(app)  # the bounded `int` converter, before any route
    app.config.from_object(config or config_from_env())
    app.config.update(overrides)
    from pathlib import Path

    for key in ("INSTANCE_DIR", "DATA_DIR"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Environment, else (development) the instance folder's key; a published key is refused.
    security.configure_secret_key(app)

    import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    # Before Flask-Login registers its remember-cookie hook (hooks run in reverse order).
    security.init_cookies(app)
    login_manager.init_app(app)
    i18n.init_app(app, babel)

    for area, module in _area_modules():
        # Routes and commands attach to the blueprint, so import them before registering it.
        for sub in ("views", "cli", "jobs"):
            try:
                importlib.import_module(f"taskflow.{area}.{sub}")
            except ModuleNotFoundError as exc:
                if exc.name != f"taskflow.{area}.{sub}":
                    raise
        blueprint = getattr(module, "bp", None)
        if blueprint is not None:
            app.register_blueprint(blueprint)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
    return app
