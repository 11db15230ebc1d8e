"""Refuse input that no database column can store, before any work: NUL characters in forms,
integers beyond a 64-bit column in URLs and query strings, NaN or infinite decimals, years far
outside the plan (issue 12, A.6)."""

from datetime import date
from decimal import Decimal

from flask import Flask, abort, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter
from wtforms import DecimalField
from wtforms.validators import StopValidation, ValidationError

# The largest value of an INTEGER column on PostgreSQL (32-bit), the type of every id, version
# and year here: PostgreSQL refuses a larger parameter bound as INTEGER ("integer out of range")
# and the SQLite driver one beyond 2**63 - 1 (OverflowError), each a 500; no row has such an id.
DB_INT_MAX = 2**31 - 1
# Pages of a list: beyond this the offset is meaningless (and page × page size must stay an
# integer the database accepts). A default, not given by the plan.
MAX_PAGE = 100_000
# Years a screen without a plan at hand may ask about (the cockpit's charts, the colour map):
# wider than any plan, so history and the next plan stay open, while -5 or 9999 are refused.
# A default, not given by the plan.
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
    if not value.isascii() or not value.isdigit() or len(value) > 12 or int(value) > DB_INT_MAX:
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
        raise InputRefused(description=year_message(MIN_YEAR, MAX_YEAR))
    return year


def plan_years(plan) -> tuple[int, int]:
    """Years an entry about the plan may name: its own and one either side."""
    return plan.start_year - 1, plan.end_year + 1


def plan_window(plan) -> tuple[date, date]:
    """Dates an entry about the plan may carry: from 1 January of the year before it starts to
    31 December of the year after it ends."""
    first, last = plan_years(plan)
    return date(first, 1, 1), date(last, 12, 31)


def year_message(low: int, high: int) -> str:
    """The message for a year outside [low, high] (shared by forms and query strings)."""
    return str(_l("The year must be between %(low)s and %(high)s.", low=low, high=high))


class PlausibleDate:
    """Form validator: the date lies in the form's `date_window` (a (first, last) pair the view
    sets from the plan); without one, in MIN_YEAR–MAX_YEAR. Refuses 1900-01-01 or 9999-12-31,
    which a date picker accepts and every later computation would carry along."""

    def __call__(self, form, field):
        if field.data is None:
            return
        first, last = getattr(form, "date_window", None) or (date(MIN_YEAR, 1, 1),
                                                              date(MAX_YEAR, 12, 31))
        if not first <= field.data <= last:
            raise ValidationError(_l("Choose a date from %(first)s to %(last)s.",
                                     first=first.isoformat(), last=last.isoformat()))


def form_int(value, default: int = 0) -> int:
    """A hidden form field (a version, an id) as an integer; `default` when it is not one."""
    try:
        return bounded_int(str(value if value is not None else ""))
    except ValueError:
        return default


# Decimal input at or beyond 10**DECIMAL_MAX_DIGITS is refused: no points or weight comes near,
# and 1e999999 cannot be rounded to two places (InvalidOperation) nor stored in a NUMERIC column.
DECIMAL_MAX_DIGITS = 12


class FiniteDecimalField(DecimalField):
    """A DecimalField that refuses NaN, sNaN, Infinity and absurd magnitudes, which Python's
    Decimal accepts.

    An sNaN even raises InvalidOperation on the first comparison, so without this a NumberRange
    validator or the operation's own checks fail with a 500."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal):
            if not self.data.is_finite():
                self.data = None
                raise ValueError(_l("Enter a number (not NaN or Infinity)."))
            if self.data and self.data.adjusted() >= DECIMAL_MAX_DIGITS:
                self.data = None
                raise ValueError(_l("The number is too large."))

    def pre_validate(self, form):
        # The value could not be read (its error is already listed): the range checks have
        # nothing to compare, so they would only add a second, misleading message.
        if self.process_errors:
            raise StopValidation()


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
