"""Helpers shared by every test area (tests is a package: `from tests.helpers import ...`)."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path

from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import TestingConfig
from taskflow import create_app
from taskflow.extensions import db

TEST_PASSWORD = "correct-horse-battery"
ROLES = ("reporter", "unit_head", "office", "supervisor", "leader", "admin")
# Set by .ci/with-postgres.sh: the suite then runs on PostgreSQL, one database per xdist worker.
POSTGRES_URL = os.environ.get("TASKFLOW_TEST_DATABASE_URL", "")


class CSRFClient(FlaskClient):
    """A test client that adds a valid CSRF token to every form it posts, like a browser would."""

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        data = kwargs.get("data")
        if method in {"POST", "PUT", "PATCH", "DELETE"} and kwargs.pop("csrf", True):
            if data is None:
                data = kwargs["data"] = {}
            if isinstance(data, dict) and "csrf_token" not in data:
                # A copy: a dict reused after sign-in must not carry the old session's token.
                data = kwargs["data"] = {**data, "csrf_token": self.csrf_token()}
        # The test's own transaction ends first (so it holds no lock and reads no old snapshot);
        # each request gets its own app context (own `g`, own DB session), as in production;
        # the test's session is expired afterwards so it reads what the request committed.
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.commit()
        db.session.expire_all()
        return response

    def csrf_token(self) -> str:
        """The signed token Flask-WTF expects for this client's session."""
        app = self.application
        with self.session_transaction() as session:
            raw = session.get("csrf_token")
            if raw is None:
                raw = session["csrf_token"] = os.urandom(20).hex()
        serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)


def make_test_app(tmp_path: Path, uri: str, catalogs: Path):
    """A TestingConfig app over `uri` with its folders under tmp_path and a CSRF-aware client."""
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=uri,
        INSTANCE_DIR=tmp_path / "instance",
        DATA_DIR=tmp_path / "data",
        BACKUP_DIR=tmp_path / "backups",
        CATALOG_BUILD_DIR=catalogs,
    )
    app.test_client_class = CSRFClient
    return app


def xdist_worker() -> str:
    """This process's xdist worker name ("gw0", ...), or "main" without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def postgres_database(suffix: str = "", *, empty: bool = False, template: str = "") -> str:
    """The URL of a PostgreSQL database of this worker's own, created if missing.

    `suffix` names a second database beside the worker's (a migration or restore target);
    `empty=True` drops and recreates it first; `template` (a database URL) is copied into it."""
    url = make_url(POSTGRES_URL)
    name = "_".join(part for part in (url.database, xdist_worker(), suffix) if part)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if empty:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar()
            if not exists:
                source = f' TEMPLATE "{make_url(template).database}"' if template else ""
                conn.execute(text(f'CREATE DATABASE "{name}"{source}'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh() -> None:
    """End the test session's transaction: the next read sees every committed write."""
    db.session.rollback()
    db.session.expire_all()


def minimal_pdf(text: str = "evidence") -> bytes:
    """A small well-formed PDF (header, objects, xref, trailer, %%EOF) that passes validation."""
    return pdf_document(page_objects(b"BT /F1 12 Tf 20 100 Td ("
                                     + text.encode("ascii", "replace") + b") Tj ET"))

def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A real PNG of one colour (signature, IHDR, zlib-compressed IDAT, IEND, with CRCs)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    """A real 8 × 8 JPEG (Pillow, installed with matplotlib)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def docx_bytes(text: str = "綦江区双倍增行动 进展说明") -> bytes:
    """A real Word document of one paragraph."""
    import io

    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()



def page_objects(stream: bytes, catalog_extra: bytes = b"") -> list[bytes]:
    """The four objects of a one-page PDF drawing `stream`; catalog_extra goes in the catalog."""
    return [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]


def pdf_document(objects: list[bytes], header: bytes = b"%PDF-1.4\n") -> bytes:
    """A PDF file of these objects (numbered from 1, the first the catalog) with its xref table."""
    out = bytearray(header)
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


class LazyUsers:
    """Users created on first attribute access (argon2 hashing is deliberately slow).

    `specs` maps an attribute name to (role, unit) or (role, unit, extra user fields); the
    attribute name is the username unless the extra fields give one."""

    def __init__(self, factory, specs):
        self._factory, self._specs, self._made = factory, specs, {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._made:
            role, unit, *rest = self._specs[name]
            extra = dict(rest[0]) if rest else {}
            extra.setdefault("username", name)
            self._made[name] = self._factory(role, unit=unit, **extra)
        return self._made[name]


@contextmanager
def app_at_revision(tmp_path: Path, revision: str):
    """A new SQLite database migrated up to `revision`, inside its app context: the state a
    migration's data step starts from."""
    from flask_migrate import upgrade

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.sqlite3'}",
                     INSTANCE_DIR=tmp_path / "instance", DATA_DIR=tmp_path / "data")
    with app.app_context():
        upgrade(revision=revision)
        yield app
        db.session.remove()
        db.engine.dispose()
