"""Confidential fields: SM4 encryption at rest, an HMAC-SM3 blind index, key rotation.

A value is stored as the text token ``v1:<key id>:<base64(iv | ciphertext | mac)>``:

- SM4-CBC (GB/T 32907) with PKCS#7 padding and a random 16-byte IV per value;
- encrypt-then-MAC: HMAC-SM3 (GB/T 32905) over ``v1:<key id>:`` | iv | ciphertext, checked before
  anything is decrypted, so a changed byte is refused rather than decrypted into garbage;
- the key id (first 4 bytes of SM3 of the key, hex) names the key that wrote the value, so during a
  rotation values under the old key are recognised (and counted) by their prefix.

The master key comes from TASKFLOW_FIELD_KEY (32 hex digits = 16 bytes). Separate keys for
encryption, MAC and blind index are derived from it with HMAC-SM3, so no key serves two purposes.
In development and tests an unset key is generated once into INSTANCE_DIR/field_key (mode 600);
production refuses to start without TASKFLOW_FIELD_KEY, always: a generated key would sit beside
the database it protects, and a lost key makes every encrypted value unreadable.

Exact-match search: a column's blind index holds HMAC-SM3(index key, normalised value) (hex), so
``WHERE mobile_index IN (...)`` finds a number without decrypting every row.

Rotation (`flask crypto rotate-key`): TASKFLOW_FIELD_KEY is the new key, TASKFLOW_FIELD_KEY_OLD
(or the variable named by --old-key-env) the old one; while both are set, values under either key
are read, new writes use the new key, and a search computes the index under both keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from gmssl import sm3
from gmssl.sm4 import SM4_DECRYPT, SM4_ENCRYPT, CryptSM4
from sqlalchemy import String, TypeDecorator, func, select, type_coerce

VERSION = "v1"
KEY_BYTES = 16  # SM4 has 128-bit keys
IV_BYTES = 16
MAC_BYTES = 32  # HMAC-SM3, not truncated
KEY_ID_BYTES = 4
KEY_FILE = "field_key"
EXTENSION = "taskflow_field_keys"
TOKEN = re.compile(r"^v1:([0-9a-f]{8}):([A-Za-z0-9+/=]+)$")


class FieldCryptoError(ValueError):
    """A value that cannot be decrypted: unknown key, changed bytes or a malformed token."""


# ---------------------------------------------------------------- primitives


# OpenSSL's SM3 (C) when the interpreter's OpenSSL has it, else gmssl's (pure Python, ~100 times
# slower); both are checked against the standard's test vector (tests/core/test_crypto.py).
OPENSSL_SM3 = "sm3" in hashlib.algorithms_available


def sm3_gmssl(data: bytes) -> bytes:
    """SM3 hash by gmssl (32 bytes)."""
    return bytes.fromhex(sm3.sm3_hash(list(data)))


def hmac_sm3_gmssl(key: bytes, message: bytes) -> bytes:
    """HMAC (RFC 2104) with gmssl's SM3: 64-byte blocks, 32-byte output."""
    block = 64
    if len(key) > block:
        key = sm3_gmssl(key)
    key = key.ljust(block, b"\0")
    inner = sm3_gmssl(bytes(b ^ 0x36 for b in key) + message)
    return sm3_gmssl(bytes(b ^ 0x5C for b in key) + inner)


def sm3_digest(data: bytes) -> bytes:
    """SM3 hash (32 bytes)."""
    return hashlib.new("sm3", data).digest() if OPENSSL_SM3 else sm3_gmssl(data)


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    """HMAC-SM3 (32 bytes)."""
    return hmac.new(key, message, "sm3").digest() if OPENSSL_SM3 else hmac_sm3_gmssl(key, message)


@lru_cache(maxsize=16)
def _sm4(key: bytes, mode: int) -> CryptSM4:
    # The key schedule costs as much as the encryption: keep it per key (crypt_cbc only reads it).
    cipher = CryptSM4()
    cipher.set_key(key, mode)
    return cipher


def sm4_encrypt_block(key: bytes, block: bytes) -> bytes:
    """SM4 of one 16-byte block (no mode, no padding): for known-answer tests."""
    if len(key) != KEY_BYTES or len(block) != 16:
        raise ValueError("SM4 takes a 16-byte key and a 16-byte block")
    cipher = CryptSM4()
    cipher.set_key(key, SM4_ENCRYPT)
    return bytes(cipher.one_round(cipher.sk, list(block)))


def _kdf(master: bytes, label: bytes, length: int) -> bytes:
    return hmac_sm3(master, b"taskflow field key\0" + label)[:length]


def parse_key(text: str | None, name: str = "TASKFLOW_FIELD_KEY") -> bytes:
    """The 16 key bytes of a hex string; a clear error when it is not 32 hex digits."""
    value = (text or "").strip()
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise RuntimeError(
            f"{name} must be {KEY_BYTES * 2} hex digits (a {KEY_BYTES}-byte SM4 key)")
    return raw


@dataclass(frozen=True)
class FieldKey:
    """A master key and the keys derived from it."""

    key_id: str
    enc_key: bytes
    mac_key: bytes
    index_key: bytes

    @classmethod
    def from_bytes(cls, master: bytes) -> FieldKey:
        """Derive the encryption, MAC and index keys from a 16-byte master key."""
        return cls(
            key_id=sm3_digest(master)[:KEY_ID_BYTES].hex(),
            enc_key=_kdf(master, b"sm4-cbc", KEY_BYTES),
            mac_key=_kdf(master, b"hmac-sm3", 32),
            index_key=_kdf(master, b"blind-index", 32),
        )

    def encrypt(self, plaintext: str) -> str:
        """The token for a text value."""
        iv = secrets.token_bytes(IV_BYTES)
        body = iv + _sm4(self.enc_key, SM4_ENCRYPT).crypt_cbc(iv, plaintext.encode("utf-8"))
        header = f"{VERSION}:{self.key_id}:"
        mac = hmac_sm3(self.mac_key, header.encode("ascii") + body)
        return header + base64.b64encode(body + mac).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The text of a token written with this key (the MAC is checked first)."""
        match = TOKEN.match(token or "")
        if match is None or match.group(1) != self.key_id:
            raise FieldCryptoError("not a value of this key")
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except ValueError as exc:
            raise FieldCryptoError("malformed encrypted value") from exc
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if len(body) < IV_BYTES + 16 or (len(body) - IV_BYTES) % 16:
            raise FieldCryptoError("malformed encrypted value")
        header = f"{VERSION}:{self.key_id}:".encode("ascii")
        if not hmac.compare_digest(mac, hmac_sm3(self.mac_key, header + body)):
            raise FieldCryptoError("encrypted value has been changed (MAC mismatch)")
        clear = _sm4(self.enc_key, SM4_DECRYPT).crypt_cbc(body[:IV_BYTES], body[IV_BYTES:])
        return clear.decode("utf-8")

    def index(self, normalised: str) -> str:
        """The blind index of a normalised value (64 hex digits)."""
        return hmac_sm3(self.index_key, normalised.encode("utf-8")).hex()


# ---------------------------------------------------------------- the app's keys


@dataclass(frozen=True)
class Keyring:
    """The key new values are written with, and the old key read during a rotation."""

    current: FieldKey
    old: FieldKey | None = None

    def key_for(self, token: str) -> FieldKey:
        """The key that wrote a token (by its key id)."""
        match = TOKEN.match(token or "")
        if match is None:
            raise FieldCryptoError("malformed encrypted value")
        for key in (self.current, self.old):
            if key is not None and key.key_id == match.group(1):
                return key
        raise FieldCryptoError(f"value written with unknown key {match.group(1)}")

    def decrypt(self, token: str) -> str:
        """Decrypt with whichever configured key wrote the token."""
        return self.key_for(token).decrypt(token)

    def indexes(self, normalised: str) -> list[str]:
        """The blind index under every configured key (a search matches any)."""
        keys = [self.current] + ([self.old] if self.old else [])
        return [key.index(normalised) for key in keys]


def folder_key(instance_dir: Path) -> str:
    """The key in <folder>/field_key, generated (mode 600) on first use: a development instance's,
    or the benchmark city's."""
    path = Path(instance_dir) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path.read_text("ascii").strip()


def load_keyring(app: Flask) -> Keyring:
    """The app's keys from its settings (see the module docstring for the rules)."""
    configured = app.config["FIELD_KEY"]
    if configured:
        current = parse_key(configured)
    elif app.config["FIELD_KEY_REQUIRED"]:
        raise RuntimeError("TASKFLOW_FIELD_KEY must be set in production (32 hex digits); "
                           "it encrypts confidential fields and must be kept outside the server's "
                           "backups (see docs/security.md)")
    else:
        current = parse_key(folder_key(app.config["INSTANCE_DIR"]), f"{KEY_FILE} file")
    old_text = app.config["FIELD_KEY_OLD"]
    old = parse_key(old_text, "TASKFLOW_FIELD_KEY_OLD") if old_text else None
    if old == current:
        old = None
    return Keyring(FieldKey.from_bytes(current), FieldKey.from_bytes(old) if old else None)


def keyring() -> Keyring:
    """The current app's keys."""
    return current_app.extensions[EXTENSION]


def encrypt(value: str) -> str:
    """A token for a value, under the current key."""
    return keyring().current.encrypt(value)


def decrypt(token: str) -> str:
    """The value of a token under the current or (during rotation) the old key."""
    return keyring().decrypt(token)


def blind_indexes(normalised: str) -> list[str]:
    """The blind index of a value under every configured key (for searches)."""
    return keyring().indexes(normalised)


def blind_index(normalised: str | None) -> str | None:
    """The blind index to store with a value (current key); None for no value."""
    return keyring().current.index(normalised) if normalised else None


class EncryptedString(TypeDecorator):
    """A text column stored encrypted (SM4-CBC + HMAC-SM3), read back as clear text.

    `index` names the sibling column that holds the value's blind index, so that key rotation
    recomputes it; models set that column with blind_index(value). Never compare the column
    itself in SQL (each encryption has a new IV, so `col == value` matches nothing): search by
    the blind index.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int = 255, *, index: str | None = None):
        super().__init__(length)
        self.index = index

    def process_bind_param(self, value: str | None, dialect):
        if value is None:
            return None
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect):
        if value is None:
            return None
        return decrypt(value)


# ---------------------------------------------------------------- status and rotation


def encrypted_columns() -> list[tuple]:
    """(table, column) of every encrypted column of the models."""
    from taskflow.extensions import db

    return [(table, column) for table in db.metadata.sorted_tables for column in table.columns
            if isinstance(column.type, EncryptedString)]


def _raw(column):
    # The stored token as text, without decrypting it.
    return type_coerce(column, String)


def count_not_under(key: FieldKey) -> int:
    """How many stored values were written with another key than this one."""
    from taskflow.extensions import db

    total = 0
    for table, column in encrypted_columns():
        total += db.session.scalar(
            select(func.count()).select_from(table)
            .where(column.isnot(None), ~_raw(column).like(f"{VERSION}:{key.key_id}:%"))
        ) or 0
    return total


def key_status() -> dict:
    """The key in use, whether an old key is configured and how many values remain under others."""
    ring = keyring()
    return {
        "key_id": ring.current.key_id,
        "old_key_id": ring.old.key_id if ring.old else None,
        "not_current": count_not_under(ring.current),
    }


def rotate(batch_size: int = 500, progress=None) -> int:
    """Re-encrypt every value not under the current key (and its blind index); returns how many.

    One transaction per batch, so a long rotation never holds the write lock for long and an
    interrupted one resumes where it stopped (values already re-encrypted are skipped)."""
    from taskflow.extensions import db

    ring = keyring()
    prefix = f"{VERSION}:{ring.current.key_id}:%"
    done = 0
    for table, column in encrypted_columns():
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            raise RuntimeError(f"{table.name}: key rotation needs a single-column primary key")
        pk = pk[0]
        last = None
        while True:
            query = (select(pk, _raw(column)).where(column.isnot(None), ~_raw(column).like(prefix))
                     .order_by(pk).limit(batch_size))
            if last is not None:
                query = query.where(pk > last)
            rows = db.session.execute(query).all()
            if not rows:
                break
            for row_id, token in rows:
                clear = ring.decrypt(token)
                values = {column.name: clear}  # the column's type encrypts it with the new key
                if column.type.index:
                    values[column.type.index] = ring.current.index(clear)
                db.session.execute(table.update().where(pk == row_id).values(**values))
            db.session.commit()
            last = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress.update(len(rows))
    return done


@click.group("crypto")
def crypto_cli():
    """Confidential fields: key status and rotation."""


@crypto_cli.command("status")
@with_appcontext
def status_command():
    """Show the key id in use and how many values are still under another key."""
    status = key_status()
    click.echo(f"key in use: {status['key_id']}")
    click.echo(f"old key: {status['old_key_id'] or 'not configured'}")
    click.echo(f"values under another key: {status['not_current']}")


@crypto_cli.command("rotate-key")
@click.option("--old-key-env", default="TASKFLOW_FIELD_KEY_OLD", show_default=True,
              help="Environment variable holding the old key (TASKFLOW_FIELD_KEY is the new one).")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="Rows re-encrypted per transaction.")
@with_appcontext
def rotate_key_command(old_key_env: str, batch_size: int):
    """Re-encrypt every confidential value under TASKFLOW_FIELD_KEY; safe to run again."""
    from tqdm import tqdm

    app = current_app._get_current_object()
    ring = keyring()
    old_text = os.environ.get(old_key_env) or app.config["FIELD_KEY_OLD"]
    if old_text:
        try:
            old = FieldKey.from_bytes(parse_key(old_text, old_key_env))
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        if old.key_id == ring.current.key_id:
            raise click.ClickException(f"{old_key_env} is the same key as TASKFLOW_FIELD_KEY")
        ring = Keyring(ring.current, old)
        app.extensions[EXTENSION] = ring
    pending = count_not_under(ring.current)
    if pending and ring.old is None:
        raise click.ClickException(
            f"{pending} values are under another key: set {old_key_env} to that key")
    with tqdm(total=pending, unit="value", desc="re-encrypting", disable=not pending) as bar:
        done = rotate(batch_size, progress=bar)
    click.echo(f"{done} values re-encrypted under key {ring.current.key_id}; "
               f"{count_not_under(ring.current)} left under another key")
    if ring.old is not None:
        click.echo(f"{old_key_env} is no longer needed: remove it from the environment")


def init_app(app: Flask) -> None:
    """Load the field keys (refusing to start without one in production) and add `flask crypto`."""
    app.extensions[EXTENSION] = load_keyring(app)
    app.cli.add_command(crypto_cli)
