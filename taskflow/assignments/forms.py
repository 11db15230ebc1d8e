"""Forms of the assignments area."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from taskflow.core.input_guard import (
    MAX_YEAR,
    MIN_YEAR,
    FiniteDecimalField,
    PlausibleDate,
    year_message,
)

REASON_LABELS = {
    "incomplete": _l("Incomplete"),
    "no_evidence": _l("No evidence"),
    "figures_inconsistent": _l("Figures inconsistent"),
    "false_reporting": _l("False reporting"),
}

REASON_CHOICES = [SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in REASON_LABELS.items()]

FREQUENCY_LABELS = {
    "quarterly": _l("Quarterly"),
    "half_yearly": _l("Half-yearly"),
    "yearly": _l("Yearly"),
}


class StatusUpdateForm(FlaskForm):
    """A unit's report on a milestone, with evidence files."""

    progress = IntegerField(
        _l("Progress (%)"),
        validators=[InputRequired(_l("Enter the progress, 0 to 100.")),
                    NumberRange(0, 100, _l("Progress must be between 0 and 100."))],
    )
    narrative = TextAreaField(
        _l("Progress made"),
        validators=[DataRequired(_l("Describe the progress made.")), Length(max=20000)],
    )
    problems = TextAreaField(_l("Problems encountered"), validators=[Length(max=20000)])
    next_steps = TextAreaField(_l("Next steps"), validators=[Length(max=20000)])
    files = MultipleFileField(_l("Evidence files"))
    # After a return: the returned report whose files the form listed (its files are kept on
    # the new report except those ticked in remove_evidence; nothing is uploaded again).
    kept_from = HiddenField()
    remove_evidence = SelectMultipleField(coerce=int, validate_choice=False)
    submit = SubmitField(_l("Submit report"))


def _decision_field(passing: SelectChoice, returning: SelectChoice) -> RadioField:
    return RadioField(_l("Decision"), choices=[passing, returning], default=passing.value,
                      validators=[InputRequired()])


class _DecisionForm(FlaskForm):
    """A decision on a report: pass it on or return it with a reason and a comment."""

    reason_code = SelectField(_l("Reason for returning"),
                              choices=REASON_CHOICES,
                              validators=[Optional()])
    comment = TextAreaField(_l("Comment"), validators=[Length(max=5000)])
    submit = SubmitField(_l("Confirm"))


class SignOffForm(_DecisionForm):
    """The unit head passes a report on or returns it."""

    decision = _decision_field(SelectChoice("approve", _l("Sign off and pass to the office")),
                               SelectChoice("return", _l("Return to the reporter")))


class ReviewForm(_DecisionForm):
    """The office accepts a report or returns it with a reason."""

    decision = _decision_field(SelectChoice("accept", _l("Accept")),
                               SelectChoice("return", _l("Return to the unit")))


class ExtensionRequestForm(FlaskForm):
    """Ask for a later due date."""

    # The view sets date_window: after the current due date, and no later than the end of the
    # year after the plan ends (9999-12-31 would be accepted by a date picker).
    requested_due_date = DateField(_l("New due date"),
                                   validators=[InputRequired(_l("Choose the new date.")),
                                               PlausibleDate()])
    reason = TextAreaField(_l("Reason"),
                           validators=[DataRequired(_l("Give the reason for the extension.")),
                                       Length(max=5000)])
    submit = SubmitField(_l("Request extension"))


class ExtensionDecisionForm(FlaskForm):
    """The office grants or refuses an extension."""

    decision = RadioField(_l("Decision"),
                          choices=[SelectChoice("grant", _l("Grant")),
                                   SelectChoice("refuse", _l("Refuse"))],
                          default="grant", validators=[InputRequired()])
    comment = TextAreaField(_l("Comment"), validators=[Length(max=5000)])
    submit = SubmitField(_l("Confirm"))


class AddUnitForm(FlaskForm):
    """The office adds a unit to a key task."""

    unit_id = SelectField(_l("Unit"), coerce=int, validators=[InputRequired()])
    role = SelectField(_l("Part in the task"), choices=[SelectChoice("responsible", _l("Responsible unit")),
                                            SelectChoice("lead", _l("Lead unit"))],
                       validators=[InputRequired()])
    submit = SubmitField(_l("Add unit"))


class GenerateMilestonesForm(FlaskForm):
    """Milestones for every assignment of a task, period by period."""

    start_year = IntegerField(_l("From year"), validators=[InputRequired(),
                                                           NumberRange(2000, 2100)])
    end_year = IntegerField(_l("To year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    frequency = SelectField(_l("Frequency"),
                            choices=[SelectChoice(k, v) for k, v in FREQUENCY_LABELS.items()],
                            default="quarterly")
    only_future = BooleanField(_l("Leave out periods that have already ended"))
    weight = FiniteDecimalField(_l("Weight"), default=1, places=2,
                          validators=[InputRequired(), NumberRange(0, 1000)])
    required_evidence = TextAreaField(
        _l("Required evidence"),
        default=_l("Progress statement with supporting documents (files, photos, ledgers)"),
        validators=[Length(max=2000)],
    )
    submit = SubmitField(_l("Generate milestones"))
    # The years milestones may be generated for: the view sets the plan's (plan_years).
    years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)

    def validate_start_year(self, field):
        if field.data is not None and not self.years[0] <= field.data <= self.years[1]:
            raise ValidationError(year_message(*self.years))

    validate_end_year = validate_start_year


class MilestoneEditForm(FlaskForm):
    """One milestone's plan; carries the version it was loaded at."""

    version_id = HiddenField()
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    due_date = DateField(_l("Due date"), validators=[InputRequired(), PlausibleDate()])
    weight = FiniteDecimalField(_l("Weight"), places=2, validators=[InputRequired(),
                                                              NumberRange(0, 1000)])
    required_evidence = TextAreaField(_l("Required evidence"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Save"))


class CloseMilestoneForm(FlaskForm):
    """The office closes a milestone off (销号): a reason, an explicit confirmation, and the
    version the page was loaded at."""

    version_id = HiddenField()
    reason = TextAreaField(_l("Reason for closing off"),
                           validators=[DataRequired(), Length(max=2000)])
    confirm = BooleanField(_l("I confirm: close this milestone off now, whatever its progress"),
                           validators=[DataRequired()])
    submit = SubmitField(_l("Close off (销号)"))


class SignOffRuleForm(FlaskForm):
    """Ask for the unit head's sign-off (per assignment or for a whole task)."""

    requires_sign_off = BooleanField(_l("Unit head signs off before the office reviews"))
    submit = SubmitField(_l("Save"))


class ConsolidatedReportForm(FlaskForm):
    """A lead unit's report on its task; the cited updates come as checkboxes."""

    # "2024-1": the quarter the report covers; the view lists the plan's quarters up to today's.
    quarter = SelectField(_l("Quarter covered"), validators=[DataRequired()], choices=[])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Report"), validators=[DataRequired(), Length(max=50000)])
    submit = SubmitField(_l("Save report"))

    def set_quarters(self, quarters: list[tuple[int, int]], default: tuple[int, int]) -> None:
        """The choices, newest first, and the default when nothing was posted."""
        self.quarter.choices = [SelectChoice(f"{y}-{q}", f"{y}Q{q}")
                                for y, q in reversed(quarters)]
        if not self.quarter.data:
            self.quarter.data = f"{default[0]}-{default[1]}"

    def chosen_quarter(self) -> tuple[int, int]:
        year, quarter = self.quarter.data.split("-")
        return int(year), int(quarter)


class ActionForm(FlaskForm):
    """A button that posts (CSRF only)."""
