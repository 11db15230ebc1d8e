"""Sign-in and account forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from taskflow.accounts.operations import USERNAME_PATTERN, normalise_mobile, password_error
from taskflow.core.roles import UNIT_ROLES, Role
from taskflow.units.labels import peer_group_label

LANGUAGE_CHOICES = [("zh_CN", "中文（简体）"), ("en", "English")]


def role_choices(with_any: bool = False) -> list[SelectChoice]:
    """Every role, in the order of DESIGN.md §2 (optionally "all roles" first)."""
    from taskflow.core.templating import ROLE_LABELS

    choices = [SelectChoice(role.value, ROLE_LABELS[role.value]) for role in Role]
    return ([SelectChoice("", _l("All roles"))] + choices) if with_any else choices


def language_choices() -> list[SelectChoice]:
    """The interface languages."""
    return [SelectChoice(value, label) for value, label in LANGUAGE_CHOICES]


def unit_choices(units, *, empty_label) -> list[SelectChoice]:
    """Units grouped by peer group (optgroups), with an empty choice first.

    units: (unit, plan title) pairs from accounts.queries.district_units(); with several district
    plans the group names carry the plan's title.
    """
    several_plans = len({u.plan_id for u, _title in units}) > 1
    choices = [SelectChoice("", empty_label)]
    for unit, plan_title in units:
        group = peer_group_label(unit.peer_group)
        if several_plans:
            group = f"{plan_title} · {group}"
        choices.append(SelectChoice(str(unit.id), unit.name, optgroup=group))
    return choices


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class StrongPassword:
    """The password rules: length, not common, not the username (taken from a field or a value)."""

    def __init__(self, username_field: str | None = None):
        self.username_field = username_field

    def __call__(self, form, field):
        username = getattr(form, "username_for_rules", None)
        if self.username_field:
            username = form[self.username_field].data
        message = password_error(field.data or "", username)
        if message is not None:
            raise ValidationError(str(message))


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Sign in"))


class ChangePasswordForm(FlaskForm):
    """The signed-in user's own password."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two passwords do not match."))])
    submit = SubmitField(_l("Change password"))


class LanguageForm(FlaskForm):
    """The interface language saved with the user."""

    locale = SelectField(_l("Language"), choices=language_choices(), validators=[DataRequired()])
    submit = SubmitField(_l("Save language"))


def _mainland_mobile(form, field):
    """An 11-digit mainland mobile number (1[3-9] and 9 digits), or nothing."""
    try:
        normalise_mobile(field.data)
    except ValueError:
        raise ValidationError(
            _l("Enter an 11-digit mainland mobile number, e.g. 13812345678.")) from None


class MobileForm(FlaskForm):
    """My account: my mobile number (the group robots @ me by it)."""

    mobile = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20),
                                                          _mainland_mobile],
                         render_kw={"inputmode": "tel", "autocomplete": "tel"},
                         description=_l("Reminders in your work group's DingTalk or WeCom robot "
                                        "@-mention you by this number. Others see it masked."))
    submit = SubmitField(_l("Save mobile number"))


class _UserDetailsForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("E-mail"), validators=[
        Optional(), Length(max=200), Email(message=_l("Enter a valid e-mail address."))])
    # Confidential (stored SM4-encrypted): shown in full only on this form, masked in lists.
    mobile = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20),
                                                          _mainland_mobile],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
    role = SelectField(_l("Role"), validators=[DataRequired()])
    unit_id = SelectField(_l("Unit"), coerce=_optional_int, validate_choice=True,
                          description=_l("Reporters and unit heads only."))

    def setup_choices(self, units) -> None:
        """Fill the role and unit choices (units of the district plan)."""
        self.role.choices = role_choices()
        self.unit_id.choices = unit_choices(units, empty_label=_l("— no unit —"))

    def validate_unit_id(self, field):
        if self.role.data in UNIT_ROLES and field.data is None:
            raise ValidationError(_l("A reporter or unit head must belong to a unit."))
        if self.role.data not in UNIT_ROLES and field.data is not None:
            raise ValidationError(_l("Only reporters and unit heads belong to a unit."))


class UserCreateForm(_UserDetailsForm):
    """An administrator creates an account."""

    username = StringField(_l("Username"), validators=[
        DataRequired(), Regexp(USERNAME_PATTERN, message=_l(
            "A username has 3 to 80 characters: letters, digits, dot, dash or underscore."))])
    password = PasswordField(_l("Initial password"), validators=[
        DataRequired(), StrongPassword(username_field="username")])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords do not match."))])
    submit = SubmitField(_l("Create account"))


class UserEditForm(_UserDetailsForm):
    """An administrator edits an account."""

    active = BooleanField(_l("Active (may sign in)"))
    # The account's version the form was made from (User.version_id).
    version = HiddenField()
    submit = SubmitField(_l("Save changes"))

    def expected_version(self) -> int:
        """The submitted version; 0 (never an account's version) when missing or not a number."""
        value = str(self.version.data or "").strip()
        return int(value) if value.isdigit() else 0


class ResetPasswordForm(FlaskForm):
    """An administrator sets a new password for a user."""

    new_password = PasswordField(_l("New password"), validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two passwords do not match."))])
    submit = SubmitField(_l("Reset password"))


class UserFilterForm(FlaskForm):
    """Filters of the user list (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=80)])
    role = SelectField(_l("Role"), validators=[Optional()])
    unit = SelectField(_l("Unit"), coerce=_optional_int, validators=[Optional()])

    def setup_choices(self, units) -> None:
        self.role.choices = role_choices(with_any=True)
        self.unit.choices = unit_choices(units, empty_label=_l("All units"))


class SecondFactorCodeForm(FlaskForm):
    """The authenticator app's 6-digit code, or one recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)],
                       description=_l("The 6-digit code your authenticator app shows now, or "
                                      "one of your recovery codes."),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text",
                                  "autofocus": True})
    submit = SubmitField(_l("Verify"))


class EnrolForm(FlaskForm):
    """Confirm an authenticator app with the code it shows."""

    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Confirm"))


class RegenerateRecoveryCodesForm(FlaskForm):
    """New recovery codes, confirmed by a current app code."""

    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Make new recovery codes"))


class ContinueForm(FlaskForm):
    """A button that goes on (a POST, so it carries the CSRF token)."""

    submit = SubmitField(_l("Continue"))


class CancelSignInForm(FlaskForm):
    """Leave the sign-in's further steps (the only way out of them)."""

    submit = SubmitField(_l("Sign out"))


class RequiredPasswordChangeForm(FlaskForm):
    """The new password a sign-in requires (expired or temporary password)."""

    new_password = PasswordField(_l("New password"), validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two passwords do not match."))])
    submit = SubmitField(_l("Change password"))


class ResetSecondFactorForm(FlaskForm):
    """An administrator removes a user's authenticator app (confirmed by a tick)."""

    confirm = BooleanField(_l("Yes, remove this user's authenticator app and recovery codes"),
                           validators=[DataRequired(message=_l("Tick the box to confirm."))])
    submit = SubmitField(_l("Reset second factor"))
