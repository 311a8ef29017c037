"""The forms of the privacy pages: the second sign-in step and the two-factor set-up."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from fiptrial.web.forms import EXPORT_FORMATS

REQUIRED = _l("Vul dit veld in.")


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code uit de app of herstelcode"),
        validators=[DataRequired(REQUIRED), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )
    submit = SubmitField(_l("Bevestigen"))


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Code uit de app"),
        validators=[DataRequired(REQUIRED), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Tweestapsverificatie aanzetten"))


class ExportRequestForm(FlaskForm):
    trial = SelectField(_l("Onderzoek"), choices=[])
    fmt = SelectField(_l("Formaat"), choices=EXPORT_FORMATS)
    purpose = TextAreaField(
        _l("Waarvoor is de export nodig?"),
        validators=[DataRequired(REQUIRED), Length(min=10, max=2000)],
    )
    submit = SubmitField(_l("Export aanvragen"))


class DecisionForm(FlaskForm):
    decision = HiddenField(validators=[DataRequired(REQUIRED)])


class ApprovedDownloadForm(FlaskForm):
    submit = SubmitField(_l("Goedgekeurde export downloaden"))
