"""Confidential fields: SM4/SM3 known answers, encrypt-then-MAC tokens, storage, search and
key rotation."""

import base64
import os
import secrets
import stat

import pytest
from sqlalchemy import text

from config import ProductionConfig, TestingConfig
from taskflow import create_app
from taskflow.core import crypto
from taskflow.core.crypto import FieldCryptoError, FieldKey, hmac_sm3, sm3_digest, sm4_encrypt_block
from taskflow.extensions import db

KEY_B = "00112233445566778899aabbccddeeff"
MOBILE = "13812345678"


def test_sm4_matches_the_standard_test_vector():
    # GB/T 32907-2016, appendix A, example 1.
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert sm4_encrypt_block(key, key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm3_matches_the_standard_test_vector():
    # GB/T 32905-2016, appendix A, example 1.
    assert sm3_digest(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


def test_gmssl_sm3_matches_the_standard_and_openssl():
    # gmssl is the fallback where the interpreter's OpenSSL has no SM3.
    message = b"abcd" * 16  # GB/T 32905-2016, appendix A, example 2
    expected = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert crypto.sm3_gmssl(message).hex() == expected
    assert sm3_digest(message).hex() == expected
    for key in (b"k", b"x" * 64, b"y" * 100):
        assert crypto.hmac_sm3_gmssl(key, b"message") == hmac_sm3(key, b"message")


def test_hmac_sm3_is_keyed_and_handles_long_keys():
    assert hmac_sm3(b"k1", b"m") != hmac_sm3(b"k2", b"m")
    assert len(hmac_sm3(b"x" * 100, b"m")) == 32
    assert hmac_sm3(b"x" * 100, b"m") == hmac_sm3(sm3_digest(b"x" * 100), b"m")


def test_round_trip_with_a_random_iv_per_value():
    key = FieldKey.from_bytes(bytes.fromhex(KEY_B))
    first, second = key.encrypt(MOBILE), key.encrypt(MOBILE)
    assert first != second  # a new IV each time: equal numbers do not look equal
    assert first.startswith(f"v1:{key.key_id}:") and MOBILE not in first
    assert key.decrypt(first) == key.decrypt(second) == MOBILE
    assert key.decrypt(key.encrypt("张三 long value " * 10)) == "张三 long value " * 10
    # The key id is the first 4 bytes of SM3 of the key.
    assert key.key_id == sm3_digest(bytes.fromhex(KEY_B))[:4].hex()


@pytest.mark.parametrize("position", [0, 20, -1])
def test_a_changed_byte_is_refused(position):
    key = FieldKey.from_bytes(bytes.fromhex(KEY_B))
    token = key.encrypt(MOBILE)
    header, body = token.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[position] ^= 0x01  # IV, ciphertext, MAC
    with pytest.raises(FieldCryptoError):
        key.decrypt(f"{header}:{base64.b64encode(bytes(raw)).decode()}")


def test_truncated_malformed_and_foreign_tokens_are_refused():
    key = FieldKey.from_bytes(bytes.fromhex(KEY_B))
    other = FieldKey.from_bytes(bytes(16))
    token = key.encrypt(MOBILE)
    for bad in (token[:-8], token.replace("v1:", "v2:"), "v1:zz:AAAA", MOBILE, ""):
        with pytest.raises(FieldCryptoError):
            key.decrypt(bad)
    with pytest.raises(FieldCryptoError):
        other.decrypt(token)
    # Another key's token relabelled with this key id fails the MAC.
    forged = token.replace(key.key_id, other.key_id)
    with pytest.raises(FieldCryptoError):
        other.decrypt(forged)


def test_development_key_is_generated_once_with_mode_600(app):
    path = app.config["INSTANCE_DIR"] / "field_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://",
                       INSTANCE_DIR=app.config["INSTANCE_DIR"], DATA_DIR=app.config["DATA_DIR"])
    assert again.extensions[crypto.EXTENSION].current.key_id == crypto.keyring().current.key_id


def test_production_refuses_to_start_without_a_key(tmp_path):
    settings = dict(SECRET_KEY=secrets.token_hex(32),
                    SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                    INSTANCE_DIR=tmp_path / "i", DATA_DIR=tmp_path / "d")
    with pytest.raises(RuntimeError, match="TASKFLOW_FIELD_KEY must be set"):
        create_app(ProductionConfig, FIELD_KEY=None, **settings)
    assert not (tmp_path / "i" / "field_key").exists()
    with pytest.raises(RuntimeError, match="32 hex digits"):
        create_app(ProductionConfig, FIELD_KEY="not-hex", **settings)
    app = create_app(ProductionConfig, FIELD_KEY=KEY_B, **settings)
    assert app.extensions[crypto.EXTENSION].current.key_id == FieldKey.from_bytes(
        bytes.fromhex(KEY_B)).key_id


def _raw_mobiles():
    return dict(db.session.execute(text("SELECT username, mobile FROM users")).all())


def test_the_database_holds_no_clear_number(app, make_user):
    user = make_user("office", mobile=MOBILE)
    raw = _raw_mobiles()[user.username]
    assert raw.startswith(f"v1:{crypto.keyring().current.key_id}:")
    assert MOBILE not in raw and "5678" not in raw.split(":")[1]
    index = db.session.execute(text("SELECT mobile_index FROM users WHERE id = :i"),
                               {"i": user.id}).scalar()
    assert index == crypto.blind_index(MOBILE) and MOBILE not in index
    db.session.expire_all()
    assert db.session.get(type(user), user.id).mobile == MOBILE


def test_search_by_exact_number_uses_the_blind_index(app, make_user):
    from taskflow.accounts.queries import users_query

    make_user("office", username="with_number", mobile=MOBILE)
    make_user("office", username="other_number", mobile="13912345678")
    make_user("office", username="no_number")
    found = [u.username for u in db.session.scalars(users_query(search="138 1234 5678"))]
    assert found == ["with_number"]
    assert [u.username for u in db.session.scalars(users_query(search="1381234567"))] == []


def _invoke(target_app, args, env=None):
    # The CLI runs in the app context already pushed; push the target app's for the command.
    with target_app.app_context():
        result = target_app.test_cli_runner().invoke(args=args, env=env)
        db.session.remove()
    return result


def _app_with(app, **keys):
    return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                      INSTANCE_DIR=app.config["INSTANCE_DIR"], DATA_DIR=app.config["DATA_DIR"],
                      **keys)


def test_rotation_re_encrypts_everything_and_the_old_key_is_then_not_needed(app, make_user):
    from taskflow.accounts.models import User
    from taskflow.accounts.queries import users_query

    old_key = (app.config["INSTANCE_DIR"] / "field_key").read_text().strip()
    old_id = crypto.keyring().current.key_id
    numbers = {f"user{n}": f"1391234{n:04d}" for n in range(7)}
    for username, number in numbers.items():
        make_user("office", username=username, mobile=number)
    make_user("office", username="nobody")
    db.session.commit()

    # Only the new key: the old values cannot be read, and the command refuses without the old key.
    only_new = _app_with(app, FIELD_KEY=KEY_B)
    result = _invoke(only_new, ["crypto", "rotate-key"])
    assert result.exit_code != 0 and "7 values are under another key" in result.output

    rotating = _app_with(app, FIELD_KEY=KEY_B)
    with rotating.app_context():
        status = crypto.key_status()
        assert status["not_current"] == 7 and status["old_key_id"] is None
        db.session.remove()
    result = _invoke(rotating, ["crypto", "rotate-key", "--old-key-env", "MY_OLD_KEY",
                                "--batch-size", "3"], env={"MY_OLD_KEY": old_key})
    assert result.exit_code == 0, result.output
    assert "7 values re-encrypted" in result.output and "0 left under another key" in result.output
    # Idempotent: a second run finds nothing to do.
    result = _invoke(rotating, ["crypto", "rotate-key"], env={"TASKFLOW_FIELD_KEY_OLD": old_key})
    assert result.exit_code == 0 and "0 values re-encrypted" in result.output

    with only_new.app_context():
        new_id = crypto.keyring().current.key_id
        assert all(raw.startswith(f"v1:{new_id}:") for raw in _raw_mobiles().values() if raw)
        assert {u.username: u.mobile for u in db.session.scalars(
            db.select(User).where(User.mobile.isnot(None)))} == numbers
        assert crypto.key_status()["not_current"] == 0
        found = [u.username for u in db.session.scalars(users_query(search=numbers["user3"]))]
        assert found == ["user3"]
        db.session.remove()
    assert new_id != old_id
    # The app still on the old key no longer reads the rotated values.
    db.session.expire_all()
    with pytest.raises(FieldCryptoError):
        db.session.scalars(db.select(User).where(User.username == "user1")).one().mobile


def test_during_rotation_both_keys_read_and_search(app, make_user):
    from taskflow.accounts.models import User
    from taskflow.accounts.queries import users_query

    old_key = (app.config["INSTANCE_DIR"] / "field_key").read_text().strip()
    make_user("office", username="old_one", mobile=MOBILE)
    db.session.commit()
    both = _app_with(app, FIELD_KEY=KEY_B, FIELD_KEY_OLD=old_key)
    with both.app_context():
        assert crypto.key_status()["old_key_id"] is not None
        make_user("office", username="new_one", mobile="13912345678")
        assert db.session.scalars(db.select(User).where(User.username == "old_one")).one().mobile \
            == MOBILE
        assert [u.username for u in db.session.scalars(users_query(search=MOBILE))] == ["old_one"]
        assert crypto.key_status()["not_current"] == 1
        db.session.remove()


def test_rotation_refuses_an_old_key_equal_to_the_new_one(app):
    result = _invoke(_app_with(app, FIELD_KEY=KEY_B), ["crypto", "rotate-key"],
                     env={"TASKFLOW_FIELD_KEY_OLD": KEY_B})
    assert result.exit_code != 0 and "same key" in result.output
    assert os.environ.get("TASKFLOW_FIELD_KEY_OLD") is None


def test_status_command_shows_the_key_and_what_is_left(app, make_user, runner):
    old_key = (app.config["INSTANCE_DIR"] / "field_key").read_text().strip()
    make_user("office", username="phone_owner", mobile=MOBILE)
    result = runner.invoke(args=["crypto", "status"])
    assert result.exit_code == 0
    assert f"key in use: {crypto.keyring().current.key_id}" in result.output
    assert "old key: not configured" in result.output and "another key: 0" in result.output
    result = _invoke(_app_with(app, FIELD_KEY=KEY_B, FIELD_KEY_OLD=old_key), ["crypto", "status"])
    assert f"old key: {crypto.keyring().current.key_id}" in result.output
    assert "values under another key: 1" in result.output
    assert old_key not in result.output and KEY_B not in result.output
