"""The research admin's forms: trial settings, sites, users, client managers, closing days."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from fiptrial.web import messages
from fiptrial.web.common import ROLE_NAMES
from fiptrial.web.forms import REQUIRED, DutchDateField, options, password_field

WHOLE = _l("Vul een heel getal in.")


def _number(label: str, low: int, high: int, **kwargs: object) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            InputRequired(REQUIRED),
            NumberRange(
                min=low,
                max=high,
                message=_l("Kies een waarde van %(low)s tot en met %(high)s.", low=low, high=high),
            ),
        ],
        **kwargs,  # type: ignore[arg-type]
    )


class TrialSettingsForm(FlaskForm):
    name = StringField(_l("Naam van het onderzoek"), validators=[DataRequired(REQUIRED)])
    start_date = DutchDateField(_l("Startdatum"), validators=[Optional()])
    method = SelectField(
        _l("Randomisatie"),
        choices=options([(m, messages.METHODS[m]) for m in ("permuted_blocks", "minimisation")]),
    )
    consent_design = SelectField(
        _l("Toestemming"), choices=options(list(messages.CONSENT_DESIGNS.items()))
    )
    fip_ratio = _number(_l("Verhouding: FIP"), 1, 20)
    control_ratio = _number(_l("Verhouding: controle"), 1, 20)
    followup_years = _number(_l("Follow-up in jaren"), 1, 10)
    cost_per_benefit_year = _number(
        _l("Kosten van een uitkeringsjaar in euro"),
        0,
        1_000_000,
        description=_l("Voor de kostenberekening in het rapport."),
    )
    conversations_per_year = _number(_l("FIP-gesprekken per jaar"), 1, 52)
    intervention_years = _number(_l("Jaren met FIP-gesprekken"), 1, 10)
    conversations_per_day = _number(_l("Gesprekken per klantmanager per dag"), 1, 20)
    first_conversation_minutes = _number(_l("Duur eerste gesprek (minuten)"), 5, 480)
    later_conversation_minutes = _number(_l("Duur latere gesprekken (minuten)"), 5, 480)
    working_day_minutes = _number(_l("Minuten per dag voor gesprekken"), 15, 720)
    submit = SubmitField(_l("Instellingen opslaan"))


class NewSiteForm(FlaskForm):
    code = StringField(
        _l("Code van de locatie"),
        validators=[
            DataRequired(REQUIRED),
            Length(max=40),
            Regexp(r"^[a-z0-9_]+$", message=_l("Gebruik kleine letters, cijfers en _.")),
        ],
        description=_l("Kleine letters, cijfers en liggende streepjes, bijvoorbeeld ‘breda’."),
    )
    name = StringField(_l("Naam"), validators=[Optional(), Length(max=200)])
    plugin = SelectField(_l("Plug-in"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Locatie toevoegen"))


class SiteForm(FlaskForm):
    name = StringField(_l("Naam"), validators=[DataRequired(REQUIRED), Length(max=200)])
    fip_ratio = IntegerField(
        _l("Eigen verhouding: FIP"), validators=[Optional(), NumberRange(min=1, max=20)]
    )
    control_ratio = IntegerField(
        _l("Eigen verhouding: controle"),
        validators=[Optional(), NumberRange(min=1, max=20)],
        description=_l("Leeg laten: de verhouding van het onderzoek."),
    )
    submit = SubmitField(_l("Locatie opslaan"))


class ClosingDayForm(FlaskForm):
    day = DutchDateField(_l("Sluitingsdag"), validators=[InputRequired(REQUIRED)])
    submit = SubmitField(_l("Sluitingsdag toevoegen"))


class RemoveClosingDayForm(FlaskForm):
    submit = SubmitField(_l("Verwijderen"))


class CapacityForm(FlaskForm):
    capacity = _number(_l("FIP-plaatsen"), 1, 1000)
    submit = SubmitField(_l("Opslaan"))


ROLE_CHOICES = options(
    [
        (role, ROLE_NAMES[role])
        for role in (
            "site_coordinator",
            "client_manager",
            "research_admin",
            "analyst",
            "privacy_officer",
        )
    ]
)


class NewUserForm(FlaskForm):
    username = StringField(
        _l("Gebruikersnaam"),
        validators=[DataRequired(REQUIRED), Length(max=80)],
        render_kw={"autocomplete": "off"},
    )
    display_name = StringField(
        _l("Naam zoals anderen die zien"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )
    role = SelectField(_l("Rol"), choices=ROLE_CHOICES)
    site = SelectField(
        _l("Locatie"),
        choices=[],
        validate_choice=False,
        description=_l("Voor locatiecoördinatoren en klantmanagers."),
    )
    capacity = IntegerField(
        _l("FIP-plaatsen (klantmanager)"),
        validators=[Optional(), NumberRange(min=1, max=1000)],
        default=180,
    )
    password = password_field(
        _l("Eerste wachtwoord"),
        "new-password",
        description=_l("Minstens 12 tekens. Geef het persoonlijk door."),
    )
    submit = SubmitField(_l("Gebruiker aanmaken"))


class PasswordResetForm(FlaskForm):
    password = password_field(_l("Nieuw wachtwoord"), "new-password")
    submit = SubmitField(_l("Wachtwoord instellen"))


class UserActionForm(FlaskForm):
    """Deactivate, reactivate or unlock: one button, its own address."""

    submit = SubmitField(_l("Uitvoeren"))
