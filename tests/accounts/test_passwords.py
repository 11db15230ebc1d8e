"""Password rules: minimum length, the common-password list, not the username; used everywhere."""

import pytest

from taskflow.accounts.operations import AccountError, create_user, password_error
from taskflow.core.passwords import common_passwords, hash_password, is_common, verify_password


def test_common_list_is_shipped_and_sizeable():
    words = common_passwords()
    assert 900 <= len(words) <= 1500
    assert {"123456", "password", "qwerty", "woaini1314", "1qaz2wsx"} <= words


@pytest.mark.parametrize("password", [
    "password",                 # short and common
    "1234567890",               # listed digits
    "qwertyuiop",               # keyboard walk
    "Password2024!",            # listed word with padding
    "P@ssw0rd1234",             # leetspeak of a listed word
    "!!woaini1314!!",           # padded on both sides
    "QWERTYUIOP123",            # case does not help
    "abcdefghijkl",             # a run of the alphabet
    "zxcvbnm,./",               # a run of the keyboard
])
def test_common_passwords_are_refused(app, password):
    assert is_common(password)
    message = password_error(password, "someone")
    assert message is not None


def test_rules_and_their_messages(app):
    with app.test_request_context():
        assert "至少 10 个字符" in str(password_error("short1!", "anna"))
        assert "不能与用户名相同" in str(password_error("Zhang.Wei-2024", "zhang.wei-2024"))
        assert "过于简单" in str(password_error("aaaaaaaaaaaa", "anna"))
        assert "过于常见" in str(password_error("qwerty123456", "anna"))
        assert "不能全部是数字" in str(password_error("13812345678", "anna"))
        assert password_error("river-lantern-47", "anna") is None


def test_minimum_length_follows_the_setting(app):
    app.config["PASSWORD_MIN_LENGTH"] = 16
    assert password_error("river-lantern-47", "anna") is None
    assert password_error("river-lantern-4", "anna") is not None


def test_create_refuses_a_weak_password(app):
    with pytest.raises(AccountError) as caught:
        create_user("newbie", "12345678901", "office")
    assert caught.value.field == "password"


def test_hash_is_argon2_and_verifies():
    stored = hash_password("river-lantern-47")  # outside an app: production parameters
    assert stored.startswith("$argon2id$v=19$m=65536,t=3")
    assert verify_password(stored, "river-lantern-47")
    assert not verify_password(stored, "river-lantern-48")
    assert not verify_password("not-a-hash", "river-lantern-47")


def test_testing_uses_cheap_parameters_and_still_verifies(app):
    stored = hash_password("river-lantern-47")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1")
    assert verify_password(stored, "river-lantern-47")
