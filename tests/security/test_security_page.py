"""The administrator's security page: who may open it, the last backup and its recorded
verification, the field-encryption key and a pending rotation."""

import re
from pathlib import Path

import pytest

from config import TestingConfig
from taskflow import create_app
from taskflow.core import crypto
from taskflow.extensions import db

URL = "/admin/security"
KEY_B = "00112233445566778899aabbccddeeff"
TEST_PASSWORD = "correct-horse-battery"  # tests/conftest.py's make_user


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section[^>]*data-section="{name}".*?</section>', page, re.S)
    assert match, name
    return match.group(0)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["reporter", "unit_head", "office", "supervisor", "leader"])
def test_every_other_role_is_refused(client, login, user_for_role, role):
    login(user_for_role(role))
    response = client.get(URL)
    assert response.status_code == 403
    assert 'data-section="backup"' not in response.get_data(as_text=True)


def test_only_the_administrator_sees_the_link(client, login, admin, user_for_role):
    login(admin)
    assert f'href="{URL}"' in client.get("/admin/users").get_data(as_text=True)
    client.post("/logout")
    login(user_for_role("leader"))
    assert f'href="{URL}"' not in client.get("/").get_data(as_text=True)


def test_no_backup_yet(client, login, admin):
    login(admin)
    response = client.get(URL)
    assert response.status_code == 200
    assert 'data-backup="none"' in _section(response.get_data(as_text=True), "backup")


def test_a_backup_written_by_the_command_shows_as_verified(app, client, login, admin, runner):
    (Path(app.config["BACKUP_DIR"]) / "anchors").mkdir(parents=True)  # other files: ignored
    result = runner.invoke(args=["backup", "create"])
    assert result.exit_code == 0, result.output
    name = Path(result.output.split(": ", 1)[1].split(" (")[0]).name
    login(admin)
    section = _section(client.get(URL).get_data(as_text=True), "backup")
    assert name in section and 'data-verified="ok"' in section


def test_the_newest_backup_is_shown_and_never_verified_is_said(app, client, login, admin, runner):
    from taskflow.core.backup import create_backup

    assert runner.invoke(args=["backup", "create", "--tar"]).exit_code == 0
    newest = create_backup()  # written without the command: no verification recorded
    login(admin)
    section = _section(client.get(URL).get_data(as_text=True), "backup")
    assert newest.name in section and 'data-verified="never"' in section
    assert "flask backup verify" in section

    result = runner.invoke(args=["backup", "verify", str(newest)])
    assert result.exit_code == 0, result.output
    section = _section(client.get(URL).get_data(as_text=True), "backup")
    assert 'data-verified="ok"' in section


def test_a_failed_verification_is_shown(app, client, login, admin, runner):
    from taskflow.core.backup import create_backup

    path = create_backup()
    dump = next((path / "db").glob("*.jsonl"))
    dump.write_text(dump.read_text() + "{}\n")
    result = runner.invoke(args=["backup", "verify", str(path)])
    assert result.exit_code != 0
    login(admin)
    section = _section(client.get(URL).get_data(as_text=True), "backup")
    assert 'data-verified="failed"' in section and "hash mismatch" in section
    # The record sits beside the backup, not in it (the backup's own file list is unchanged).
    assert (path.parent / f"{path.name}.verified.json").is_file()
    assert not list(path.glob("*.verified.json"))


def test_field_key_status(app, client, login, admin, make_user):
    make_user("office", username="phone_owner", mobile="13812341234")
    login(admin)
    section = _section(client.get(URL).get_data(as_text=True), "field-key")
    assert f'data-key="current">{crypto.keyring().current.key_id}<' in section
    assert 'data-rotation="pending"' not in section
    assert re.search(r'data-key="not-current">\s*0\s', section)


def test_a_pending_rotation_is_shown_with_the_values_left(app, make_user, admin):
    old_key = (app.config["INSTANCE_DIR"] / "field_key").read_text().strip()
    make_user("office", username="phone_owner", mobile="13812341234")
    make_user("office", username="phone_owner2", mobile="13812341235")
    db.session.commit()
    rotating = create_app(TestingConfig,
                          SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                          INSTANCE_DIR=app.config["INSTANCE_DIR"], DATA_DIR=app.config["DATA_DIR"],
                          FIELD_KEY=KEY_B, FIELD_KEY_OLD=old_key)
    rotating.test_client_class = type(app.test_client())
    with rotating.app_context():
        client = rotating.test_client()
        client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
        section = _section(client.get(URL).get_data(as_text=True), "field-key")
        db.session.remove()
    old_id = crypto.FieldKey.from_bytes(bytes.fromhex(old_key)).key_id
    assert 'data-rotation="pending"' in section and old_id in section
    assert re.search(r'data-key="not-current">\s*2\s', section)
    assert "flask crypto rotate-key" in section
