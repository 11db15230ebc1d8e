"""Password hashing with argon2, and the password rules (length, common list, not the username)."""

import re
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

_STRONG = PasswordHasher()
# The test suite creates and signs in hundreds of users: cheap argon2id parameters there only.
_TESTING = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "accounts" / "common_passwords.txt"
DEFAULT_MIN_LENGTH = 10
MAX_LENGTH = 200

# Digits and punctuation people put around a word to satisfy a length rule ("Password2024!").
_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")
# Runs people type along the keyboard or the alphabet ("abcdefghijk", "qwertyuiop[]").
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./",
              "1234567890-=", "1qaz2wsx3edc4rfv5tgb6yhn", "qazwsxedcrfvtgbyhnujmikolp")
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "3": "e", "$": "s", "5": "s", "1": "i",
                       "!": "i", "7": "t"})


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config["TESTING"]:
        return _TESTING
    return _STRONG


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)


_dummy_hashes: dict[int, str] = {}


def burn_verify(password: str) -> None:
    """Spend one verification's time, so an unknown username answers as slowly as a known one."""
    hasher = _hasher()
    dummy = _dummy_hashes.get(id(hasher))
    if dummy is None:
        dummy = _dummy_hashes[id(hasher)] = hasher.hash("taskflow-dummy-password-for-timing")
    verify_password(dummy, password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of well-known weak passwords (lower case)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def min_length() -> int:
    """PASSWORD_MIN_LENGTH of the running app (10 outside an app)."""
    if has_app_context():
        return int(current_app.config["PASSWORD_MIN_LENGTH"])
    return DEFAULT_MIN_LENGTH


def is_common(password: str) -> bool:
    """True for a listed password or keyboard run, also padded with digits or in leetspeak."""
    common = common_passwords()
    lowered = password.lower()
    candidates = {lowered, lowered.translate(_LEET)}
    for candidate in list(candidates):
        stripped = _PADDING.sub("", candidate)
        if len(stripped) >= 3:
            candidates.add(stripped)
    if any(candidate in common for candidate in candidates):
        return True
    for candidate in candidates:
        if len(candidate) >= 6 and any(
                candidate in seq or candidate in seq[::-1] for seq in _SEQUENCES):
            return True
    return False


def password_problem(password: str, *, username: str | None = None) -> tuple[str, dict] | None:
    """Why a password is refused, as (code, parameters), or None when it is acceptable.

    Codes: too_short (n), too_long (n), same_as_username, too_simple, only_digits, common.
    The accounts area turns them into messages (taskflow.accounts.operations.password_error).
    """
    length = min_length()
    if len(password) < length:
        return "too_short", {"n": length}
    if len(password) > MAX_LENGTH:
        return "too_long", {"n": MAX_LENGTH}
    if username and password.strip().lower() == username.strip().lower():
        return "same_as_username", {}
    if len(set(password)) < 4:
        return "too_simple", {}
    if password.isdigit():
        # Phone numbers, birthdays and ID numbers are the usual all-digit passwords.
        return "only_digits", {}
    if is_common(password):
        return "common", {}
    return None
