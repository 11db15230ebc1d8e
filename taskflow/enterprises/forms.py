"""Forms of the register, the import, claims and the dispatch."""

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from taskflow.core.input_guard import DB_INT_MAX, MAX_YEAR, MIN_YEAR, year_message

SOURCE_CHOICES = [("stock", _l("Stock (2022)")), ("cultivated", _l("Cultivated")),
                  ("attracted", _l("Attracted"))]
STATUS_CHOICES = [("active", _l("Operating")), ("closed", _l("Closed or moved out"))]


class EnterpriseForm(FlaskForm):
    """Add or edit one enterprise."""

    name = StringField(_l("Enterprise name"), validators=[DataRequired(), Length(max=200)])
    credit_code = StringField(_l("Credit code"), validators=[DataRequired(), Length(max=40)],
                              description=_l("18 characters, checked with its check digit."))
    unit_id = SelectField(_l("Attributed unit"), coerce=int)
    source = SelectField(_l("Source"), choices=SOURCE_CHOICES)
    tech_in_library_on = DateField(_l("Tech-based in-library date"), validators=[Optional()])
    tech_removed_on = DateField(_l("Removed from the tech-based library on"),
                                validators=[Optional()])
    high_tech_cert_no = StringField(_l("High-tech certificate number"),
                                    validators=[Optional(), Length(max=40)])
    high_tech_cert_on = DateField(_l("High-tech certification date"), validators=[Optional()],
                                  description=_l("Valid for 3 years; a later date is a re-review."))
    specialised_sme = BooleanField(_l("Specialised SME (专精特新)"))
    status = SelectField(_l("Status"), choices=STATUS_CHOICES)
    closed_on = DateField(_l("Closed on"), validators=[Optional()])
    version = HiddenField()
    submit = SubmitField(_l("Save"))

    def data_dict(self) -> dict:
        return {
            "name": self.name.data or "",
            "credit_code": self.credit_code.data or "",
            "source": self.source.data,
            "tech_in_library_on": self.tech_in_library_on.data,
            "tech_removed_on": self.tech_removed_on.data,
            "high_tech_cert_no": (self.high_tech_cert_no.data or "").strip() or None,
            "high_tech_cert_on": self.high_tech_cert_on.data,
            "specialised_sme": bool(self.specialised_sme.data),
            "status": self.status.data,
            "closed_on": self.closed_on.data if self.status.data == "closed" else None,
        }


class ImportForm(FlaskForm):
    """Upload a unit's Excel list."""

    unit_id = SelectField(_l("Unit"), coerce=int)
    file = FileField(_l("Excel file (.xlsx)"), validators=[FileRequired()])
    submit = SubmitField(_l("Upload and preview"))


class ConfirmForm(FlaskForm):
    """A bare POST (CSRF only)."""


class ClaimDecisionForm(FlaskForm):
    """The office's decision on a claim conflict."""

    decision = SelectField(_l("Decision"), choices=[
        ("keep", _l("Keep with the current unit")),
        ("transfer", _l("Transfer to the claiming unit"))])
    note = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
    version = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=DB_INT_MAX)])
    submit = SubmitField(_l("Decide"))


class OpenMonthForm(FlaskForm):
    """The office opens a month of the dispatch."""

    month = StringField(_l("Month"),
                        validators=[DataRequired(), Regexp(r"^\d{4}-\d{2}$",
                                                           message=_l("Give the month as YYYY-MM."))],
                        description=_l("YYYY-MM"))
    submit = SubmitField(_l("Open the month"))
    # The years a month may fall in: the view sets the plan's (plan_years); this is the fallback.
    years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)

    def validate_month(self, field):
        """A real month within the plan's years (1900-01 or 2024-13 are refused)."""
        if field.errors:  # not YYYY-MM at all: said once already
            return
        try:
            year, month = (int(part) for part in (field.data or "").strip().split("-"))
            date(year, month, 1)
        except ValueError:
            raise ValidationError(_l("Give the month as YYYY-MM.")) from None
        if not self.years[0] <= year <= self.years[1]:
            raise ValidationError(year_message(*self.years))


class ConfirmFiguresForm(FlaskForm):
    """A unit confirms its month figures."""

    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Confirm the figures"))
