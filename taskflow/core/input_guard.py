"""Refuse input that no database column can store, before any work: NUL characters in forms,
integers beyond a 64-bit column in URLs and query strings, NaN or infinite decimals, years far
outside the plan (issue 12, A.6)."""

from decimal import Decimal

from flask import Flask, abort, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter
from wtforms import DecimalField
from wtforms.validators import ValidationError

# The largest value of a signed 64-bit integer column (SQLite INTEGER, PostgreSQL BIGINT); a
# larger number in a query makes the database driver fail, so it can name no row.
DB_INT_MAX = 2**63 - 1
# Pages of a list: beyond this the offset is meaningless (and page × page size must stay a
# database integer). A default, not given by the plan.
MAX_PAGE = 100_000
# Years any screen may ask about: the plan runs 2022–2027; a wider window than the plan keeps
# history and the next plan open while refusing nonsense such as -5 or 9999. A default.
MIN_YEAR, MAX_YEAR = 2000, 2100


class InputRefused(BadRequest):
    """A 400 whose description is a translated message for the user (the error page shows it)."""


class BoundedIntConverter(IntegerConverter):
    """The app's `int` URL converter: as Werkzeug's, but a value no database integer column can
    hold does not match, so the route answers 404 instead of the driver failing with a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=DB_INT_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def bounded_int(value: str) -> int:
    """`type=` for request.args.get: a non-negative integer a database column can hold.

    Anything else raises ValueError, which request.args.get turns into the default, as it
    already does for a value that is not a number."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > DB_INT_MAX:
        raise ValueError(f"not a database integer: {value[:30]!r}")
    return int(value)


def page_number(name: str = "page") -> int:
    """The page number of a list from the query string: 1 unless a plausible page is given."""
    page = request.args.get(name, 1, type=bounded_int)
    return page if 1 <= page <= MAX_PAGE else 1


def query_year(name: str = "year", default: int | None = None) -> int | None:
    """A year from the query string; 400 with a message when it is given but not plausible."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    year = int(text) if digits.isascii() and digits.isdigit() and len(text) <= 6 else None
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        raise InputRefused(description=str(_l("The year must be between %(low)s and %(high)s.",
                                              low=MIN_YEAR, high=MAX_YEAR)))
    return year


def form_int(value, default: int = 0) -> int:
    """A hidden form field (a version, an id) as an integer; `default` when it is not one."""
    try:
        return bounded_int(str(value if value is not None else ""))
    except ValueError:
        return default


class FiniteDecimalField(DecimalField):
    """A DecimalField that refuses NaN, sNaN and Infinity, which Python's Decimal accepts.

    An sNaN even raises InvalidOperation on the first comparison, so without this a NumberRange
    validator or the operation's own checks fail with a 500."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError(_l("Enter a number."))

    def pre_validate(self, form):
        if isinstance(self.data, Decimal) and not self.data.is_finite():
            raise ValidationError(_l("Enter a number."))


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


def register_converters(app: Flask) -> None:
    """Make the bounded converter the app's `int` (before any blueprint adds its routes)."""
    app.url_map.converters["int"] = BoundedIntConverter


def init_app(app: Flask) -> None:
    """Register the hook."""
    app.before_request(refuse_nul_characters)
