"""The session signing key (issue 12, A.3): random per instance folder, private, never a
published literal."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from config import DevelopmentConfig, ProductionConfig
from taskflow import create_app
from taskflow.core import clock
from taskflow.core.security import InsecureSecretKey, instance_secret_key
from taskflow.extensions import db

ROOT = Path(__file__).resolve().parents[2]
OLD_DEV_LITERAL = "dev-only-secret-change-me"


def _dev_app(uri: str, instance_dir: Path, **overrides) -> Flask:
    overrides.setdefault("SECRET_KEY", None)  # whatever the shell running the tests exports
    return create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=uri, INSTANCE_DIR=instance_dir,
                      DATA_DIR=instance_dir.parent / "dev-data", **overrides)


def _forged_session_cookie(secret_key: str, user) -> str:
    """A session cookie saying `user` signed in just now, signed with `secret_key`."""
    signer = Flask("forger")
    signer.secret_key = secret_key
    now = clock.utcnow().timestamp()
    payload = {"_user_id": user.get_id(), "_fresh": True, "_tf_login_at": now,
               "_tf_seen_at": now}
    return SecureCookieSessionInterface().get_signing_serializer(signer).dumps(payload)


def test_a_cookie_signed_with_the_old_published_key_opens_nothing(app, make_user, tmp_path):
    admin = make_user("admin", username="forged_admin")
    dev = _dev_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "dev-instance")
    assert dev.secret_key != OLD_DEV_LITERAL
    try:
        client = dev.test_client()
        client.set_cookie("session", _forged_session_cookie(OLD_DEV_LITERAL, admin))
        response = client.get("/admin/users")
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
        # The same cookie signed with the instance's own key does open the page: the refusal
        # above is the key's doing, not a malformed cookie.
        client = dev.test_client()
        client.set_cookie("session", _forged_session_cookie(dev.secret_key, admin))
        assert client.get("/admin/users").status_code == 200
    finally:
        with dev.app_context():
            db.session.remove()
            db.engine.dispose()


def test_apps_over_one_instance_folder_share_a_private_key(tmp_path):
    instance = tmp_path / "instance"
    uri = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    first = _dev_app(uri, instance)
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) == 64 and first.secret_key == key_file.read_text().strip()
    assert _dev_app(uri, instance).secret_key == first.secret_key
    assert _dev_app(uri, tmp_path / "other").secret_key != first.secret_key


def test_make_run_processes_read_the_same_instance_key(tmp_path):
    """`flask db upgrade`, `flask demo setup`, gunicorn's workers and the scheduler are separate
    processes over one INSTANCE_DIR: a process started later reads the key the first wrote."""
    instance = tmp_path / "instance"
    here = _dev_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", instance)
    env = dict(os.environ, TASKFLOW_ENV="development", TASKFLOW_INSTANCE_DIR=str(instance),
               TASKFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}")
    env.pop("TASKFLOW_SECRET_KEY", None)
    out = subprocess.run([sys.executable, "-c", "from taskflow.wsgi import app; print(app.secret_key)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == here.secret_key


def test_first_runs_at_the_same_moment_agree_on_one_key(tmp_path):
    keys, errors = [], []

    def read():
        try:
            keys.append(instance_secret_key(tmp_path / "instance"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in (tmp_path / "instance").iterdir()) == ["secret_key"]


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    instance = tmp_path / "instance"
    instance_secret_key(instance)
    (instance / "secret_key").chmod(0o644)
    with pytest.raises(InsecureSecretKey, match="chmod 600"):
        _dev_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", instance)


def test_a_published_key_in_the_key_file_is_refused(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    fd = os.open(instance / "secret_key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, OLD_DEV_LITERAL.encode())
    os.close(fd)
    with pytest.raises(InsecureSecretKey, match="published"):
        _dev_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", instance)


def test_the_environment_key_wins_over_the_instance_file(tmp_path):
    key = "e" * 20 + os.urandom(16).hex()
    app = _dev_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", tmp_path / "instance", SECRET_KEY=key)
    assert app.secret_key == key
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize("config", [DevelopmentConfig, ProductionConfig],
                         ids=["development", "production"])
@pytest.mark.parametrize("key", [OLD_DEV_LITERAL, "testing-secret", "change-me", "CHANGE-ME",
                                 "short-but-not-published-key"])
def test_a_published_or_short_key_is_refused(tmp_path, config, key):
    with pytest.raises(InsecureSecretKey, match="refusing to start"):
        create_app(config, SECRET_KEY=key, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
                   INSTANCE_DIR=tmp_path / "instance", DATA_DIR=tmp_path / "data")


def test_production_needs_a_key_from_the_environment(tmp_path):
    with pytest.raises(InsecureSecretKey, match="TASKFLOW_SECRET_KEY must be set"):
        create_app(ProductionConfig, SECRET_KEY=None,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
                   INSTANCE_DIR=tmp_path / "instance", DATA_DIR=tmp_path / "data")
    assert not (tmp_path / "instance" / "secret_key").exists()
