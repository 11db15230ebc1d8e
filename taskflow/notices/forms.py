"""Forms of the notices area."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class IssueNoticeForm(FlaskForm):
    """The office issues a notice about the selected overdue items."""

    milestone_ids = SelectMultipleField(_l("Items"), coerce=int, validate_choice=False,
                                        validators=[DataRequired(_l("Select at least one item."))])
    level = SelectField(_l("Level"), choices=[
        SelectChoice("yellow", _l("Urge notice (yellow, 催办)")),
        SelectChoice("red", _l("Supervision notice (red, 督办)")),
        SelectChoice("blue", _l("Reminder notice (blue)")),
    ], default="yellow")
    response_due = DateField(_l("Answer by"), validators=[DataRequired()])
    note = TextAreaField(_l("Requirements"), validators=[Optional(), Length(max=2000)],
                         description=_l("Shown on the notice above the list of items."))


class RespondForm(FlaskForm):
    """The unit's answer to a notice."""

    response = TextAreaField(_l("Your answer"), validators=[
        DataRequired(_l("Write what has been done and when the items will be completed.")),
        Length(max=4000),
    ])


class WorkdayOverrideForm(FlaskForm):
    """An admin's correction of one date."""

    day = DateField(_l("Date"), validators=[DataRequired()])
    is_workday = SelectField(_l("This date is"), choices=[
        SelectChoice("1", _l("a working day")), SelectChoice("0", _l("a day off")),
    ])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class CalendarYearForm(FlaskForm):
    """The admin pastes a year's State Council holiday notice; previewed, then confirmed."""

    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(min=2000, max=2100)])
    text = TextAreaField(_l("Text of the notice"), validators=[
        DataRequired(_l("Paste the text of the State Council's notice.")), Length(max=20000)],
        description=_l("国务院办公厅关于YYYY年部分节假日安排的通知: paste it whole, as published "
                       "(www.gov.cn); the holidays and make-up working days are read from it."))
    confirm = HiddenField()


class RobotForm(FlaskForm):
    """A group robot: platform, name, webhook address, signing secret, owner, active.

    The address and the secret are never shown back: left empty on an existing robot, the stored
    ones stay."""

    platform = SelectField(_l("Platform"), choices=[
        SelectChoice("dingtalk", _l("DingTalk (incl. 渝快政 / 浙政钉)")),
        SelectChoice("wecom", _l("WeCom (企业微信)")),
        SelectChoice("feishu", _l("Feishu (飞书)")),
    ])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the robot a name.")),
                                               Length(max=120)],
                       description=_l("E.g. the name of the work group."))
    webhook_url = StringField(_l("Webhook address"), validators=[Optional(), Length(max=1000)],
                              render_kw={"autocomplete": "off", "inputmode": "url"})
    secret = PasswordField(_l("Signing secret"), validators=[Optional(), Length(max=200)],
                           render_kw={"autocomplete": "new-password"},
                           description=_l("DingTalk 加签 (SEC…) or Feishu 签名校验. WeCom robots "
                                          "have none: their key is in the address."))
    clear_secret = BooleanField(_l("Remove the stored secret"))
    unit_id = SelectField(_l("Owner"), choices=[], validate_choice=False)
    active = BooleanField(_l("Active"), default=True)
    version_id = HiddenField()
