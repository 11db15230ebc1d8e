"""Refuse form input that no database column can store (NUL characters), before any work."""

from flask import Flask, abort, request

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def refuse_nul_characters() -> None:
    """before_request hook: 400 when a submitted field holds a NUL character.

    PostgreSQL text columns cannot hold U+0000 and no legitimate form needs it, so the request
    is refused as a whole rather than failing half-way with a database error.
    """
    if request.method not in UNSAFE_METHODS or request.mimetype not in (
        "application/x-www-form-urlencoded", "multipart/form-data"
    ):
        return
    for key, value in request.form.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400, description="nul")


def init_app(app: Flask) -> None:
    """Register the hook."""
    app.before_request(refuse_nul_characters)
