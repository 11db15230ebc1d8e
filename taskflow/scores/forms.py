"""Forms of the scores area."""

import json

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from taskflow.core.input_guard import (
    DB_INT_MAX,
    MAX_YEAR,
    MIN_YEAR,
    FiniteDecimalField,
    PlausibleDate,
    year_message,
)
from taskflow.scores.rules import PeriodError, parse_period_key, validate_parameters


class VersionForm(FlaskForm):
    """A state change on a period or bulletin: carries the version shown (optimistic lock)."""

    version = HiddenField()

    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


# The longest text of one bulletin section (a Text column): a printed page holds far less.
# A default, not given by the plan.
BULLETIN_SECTION_MAX = 20000


class BulletinForm(VersionForm):
    """A draft bulletin's title (its column holds 200 characters); the sections, whose number
    depends on the bulletin, are checked by section_errors."""

    title = StringField(_l("Title"), validators=[Length(max=200)])

    def section_errors(self, sections: dict[str, str]) -> list[str]:
        """A message for each section longer than BULLETIN_SECTION_MAX characters."""
        return [str(_l("A section may hold at most %(max)s characters.", max=BULLETIN_SECTION_MAX))
                for body in sections.values() if len(body) > BULLETIN_SECTION_MAX][:1]


class AdjustForm(VersionForm):
    # The most an adjustment may be is a rule parameter (adjustment.max), checked by the operation.
    points = FiniteDecimalField(_l("Points (+ or −)"), places=2, validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)],
                           description=_l("Required. Kept beside the computed score and shown to the unit."))


class CorrectForm(VersionForm):
    reason = TextAreaField(_l("Reason for the correction"), validators=[DataRequired(), Length(max=2000)])


class RecomputeForm(FlaskForm):
    period = StringField(_l("Period"), validators=[DataRequired(), Length(max=10)],
                         description=_l("A month (2024-03), a quarter (2024Q1) or a year (2024)."))

    # The years a period may fall in: the view sets the plan's (plan_years); this is the fallback.
    years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)

    def validate_period(self, field):
        try:
            period = parse_period_key(field.data)
        except PeriodError:
            raise ValidationError(_l("Use 2024-03, 2024Q1 or 2024."))
        if not self.years[0] <= period.year <= self.years[1]:
            raise ValidationError(year_message(*self.years))
        field.data = period.key


class RuleSetForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    effective_from = DateField(_l("Effective from"), validators=[DataRequired(), PlausibleDate()])
    # The defaults take ~1,300 characters as JSON; ample room for notes and new rules.
    parameters = TextAreaField(_l("Parameters (JSON)"), validators=[DataRequired(), Length(max=50000)],
                               render_kw={"rows": 24, "class": "font-monospace"})
    note = TextAreaField(_l("What changed and why"), validators=[DataRequired(), Length(max=2000)])

    def validate_parameters(self, field):
        try:
            value = json.loads(field.data)
        except ValueError as exc:
            raise ValidationError(_l("Not valid JSON: %(error)s", error=str(exc)))
        errors = validate_parameters(value)
        if errors:
            raise ValidationError("; ".join(errors))
        self.parsed = value


class RecognitionForm(FlaskForm):
    unit_id = SelectField(_l("Unit"), coerce=int, validators=[DataRequired()])
    awarded_on = DateField(_l("Date"), validators=[DataRequired(), PlausibleDate()])
    title = StringField(_l("Recognition"), validators=[DataRequired(), Length(max=200)])
    points = FiniteDecimalField(_l("Points"), places=2, validators=[InputRequired(), NumberRange(min=0.01, max=10)])
    evidence = TextAreaField(_l("Evidence"), validators=[DataRequired(), Length(max=2000)],
                             description=_l("The document that proves it: issuing body, document number, where it is filed."))


class BulletinCreateForm(FlaskForm):
    period_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=DB_INT_MAX)])
